/// The kinds of client meshd configures, as columns of the per-kind support table
/// (`ClientSupport`): a field a column does not list is honoured by that kind.
public enum ProxyClient: String, Sendable, Hashable, CaseIterable {
    /// grpcio / grpc-java / grpc-go with an xDS bootstrap (`GENERATOR: grpc`, or no Envoy identity).
    case proxylessGRPC = "proxyless-grpc"
    /// Envoy sidecars and gateways, which get istiod's Envoy shapes.
    case envoy

    /// How warnings name the kind.
    public var displayName: String {
        switch self {
        case .proxylessGRPC: "proxyless gRPC clients"
        case .envoy: "Envoy proxies"
        }
    }
}

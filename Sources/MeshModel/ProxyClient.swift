/// The kinds of client meshd configures, as columns of the per-kind support table. Envoy
/// (sidecars and gateways) joins when meshd sends it Envoy's own shapes.
public enum ProxyClient: String, Sendable, Hashable, CaseIterable {
    /// grpcio / grpc-java / grpc-go with an xDS bootstrap (`GENERATOR: grpc`, or no Envoy identity).
    case proxylessGRPC = "proxyless-grpc"

    /// How warnings name the kind.
    public var displayName: String {
        switch self {
        case .proxylessGRPC: "proxyless gRPC clients"
        }
    }
}

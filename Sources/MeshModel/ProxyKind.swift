/// What kind of data plane a proxy is: the one name for it in meshd. The generator table
/// (`Translator.GeneratorTable`) picks each kind's generators, and the per-field support table
/// (`ClientSupport`) has a column per kind. Nothing else asks which kind a proxy is.
public enum ProxyKind: String, Sendable, Hashable, CaseIterable, Comparable {
    /// A gRPC client or server with a built-in xDS client (grpcio, grpc-java, grpc-go):
    /// metadata `GENERATOR: grpc`, or a node without an Envoy identity.
    case proxylessGRPC = "proxyless-grpc"
    /// An Envoy sidecar next to a workload (Istio node id `sidecar~…`, user agent `envoy`).
    case sidecar
    /// An Envoy gateway (Istio node id `router~…`).
    case gateway

    /// How warnings name the kind.
    public var displayName: String {
        switch self {
        case .proxylessGRPC: "proxyless gRPC clients"
        case .sidecar: "Envoy sidecars"
        case .gateway: "Envoy gateways"
        }
    }

    /// The admin API's short name for the kind (`proxyless`, `sidecar`, `gateway`).
    public var apiName: String {
        switch self {
        case .proxylessGRPC: "proxyless"
        case .sidecar: "sidecar"
        case .gateway: "gateway"
        }
    }

    /// Whether the kind is an Envoy (it reads Envoy's whole API rather than gRPC's subset).
    public var isEnvoy: Bool {
        switch self {
        case .proxylessGRPC: false
        case .sidecar, .gateway: true
        }
    }

    /// How warnings name several kinds that make the same of a field: both Envoy kinds are
    /// "Envoy proxies", as meshd's answers have always said.
    public static func displayName(of kinds: [ProxyKind]) -> String {
        if !kinds.isEmpty, kinds.allSatisfy(\.isEnvoy), Set(kinds).count == allCases.filter(\.isEnvoy).count {
            return "Envoy proxies"
        }
        return kinds.map(\.displayName).joined(separator: " and ")
    }

    public static func < (a: Self, b: Self) -> Bool {
        (allCases.firstIndex(of: a) ?? 0) < (allCases.firstIndex(of: b) ?? 0)
    }
}

/// A connected xDS client, as the generators see it.
public struct Proxy: Sendable, Hashable {
    /// What kind of data plane it is; decides which generators' shapes apply.
    public enum Kind: String, Sendable, Hashable {
        /// A gRPC client or server with a built-in xDS client (grpcio, grpc-java, grpc-go).
        case proxylessGRPC
    }

    /// The node id it sent.
    public var id: String
    /// Its kind.
    public var kind: Kind

    public init(id: String, kind: Kind = .proxylessGRPC) {
        self.id = id
        self.kind = kind
    }

    /// The key generated output depends on besides the PushContext: proxies with equal keys get
    /// identical resources, so the push server generates and encodes once per key.
    public var generationKey: String { kind.rawValue }
}

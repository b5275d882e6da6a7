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

    /// What generated output depends on besides the PushContext: proxies with equal view keys
    /// get identical resources, so the push server generates and encodes once per key.
    public var viewKey: ViewKey { ViewKey(kind: kind) }

    /// The view key as text, for logs and debug output.
    public var generationKey: String { viewKey.description }
}

/// Everything about a proxy that its generated configuration depends on. Built from the proxy;
/// two proxies with equal keys get byte-identical snapshots at one PushContext revision.
///
/// Today only the kind varies (every proxyless client sees the whole mesh); namespace, Sidecar
/// scope, labels and locality join it as the generators start reading them.
public struct ViewKey: Sendable, Hashable, CustomStringConvertible {
    /// The proxy's kind.
    public var kind: Proxy.Kind

    public init(kind: Proxy.Kind) {
        self.kind = kind
    }

    public var description: String { kind.rawValue }
}

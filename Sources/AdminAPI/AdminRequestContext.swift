import Hummingbird
import NIOCore

/// The admin API's request context: Hummingbird's basics plus the caller's address, which
/// decides whether the caller is trusted (loopback) or must authenticate.
public struct AdminRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer address of the connection.
    public let remoteAddress: SocketAddress?
    /// Who the caller is (`admin`, `loopback 127.0.0.1`, `trusted 10.0.0.5`), set by
    /// `AdminAuthMiddleware`; history records it as the actor of a write.
    public var actor = "unknown"

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

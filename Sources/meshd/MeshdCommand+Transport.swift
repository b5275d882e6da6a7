import GRPCNIOTransportHTTP2
import XDS

extension MeshdCommand {
    /// HTTP/2 streams one connection may hold open: a proxy needs one ADS stream (plus short CA
    /// calls), so this bounds a single connection's state well below the stream budget.
    static let maxStreamsPerConnection = 1024

    /// The gRPC transport bounds for every port: request size from `limits`, and HTTP/2 streams
    /// per connection capped so one connection cannot hold the whole stream budget's state.
    static func transportConfig(_ limits: ADSLimits) -> HTTP2ServerTransport.Posix.Config {
        var config = HTTP2ServerTransport.Posix.Config.defaults
        config.rpc.maxRequestPayloadSize = limits.maxRequestBytes
        config.http2.maxConcurrentStreams = maxStreamsPerConnection
        return config
    }
}

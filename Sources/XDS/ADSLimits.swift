import GRPCCore
import PushPipeline
import XDSCore

/// Bounds on what xDS clients may make meshd hold. Each is a meshd flag; the defaults are sized
/// for real meshes (an Envoy subscribes to EDS for every cluster it sees).
public struct ADSLimits: Sendable, Hashable {
    /// Concurrent ADS streams across all connections; more are refused with RESOURCE_EXHAUSTED.
    public var maxStreams: Int
    /// Resource names in one DiscoveryRequest (Delta: subscribe + unsubscribe + initial
    /// versions), and names one Delta stream subscribes to in one type in total; more end the
    /// stream with RESOURCE_EXHAUSTED.
    public var maxResourceNamesPerRequest: Int
    /// Largest DiscoveryRequest accepted, in bytes (enforced by the gRPC transport).
    public var maxRequestBytes: Int

    /// Creates limits; the defaults hold 25,000 proxies subscribing to 100,000 names each.
    public init(maxStreams: Int = 25_000, maxResourceNamesPerRequest: Int = 100_000, maxRequestBytes: Int = 16 << 20) {
        self.maxStreams = maxStreams
        self.maxResourceNamesPerRequest = maxResourceNamesPerRequest
        self.maxRequestBytes = maxRequestBytes
    }

    /// Throws RESOURCE_EXHAUSTED (ending the stream) when `count` names break the name bound:
    /// those of one request, or with `subscribed` those a stream holds in one type.
    func checkNames(_ count: Int, subscribed: Bool = false) throws {
        guard count > maxResourceNamesPerRequest else { return }
        throw RPCError(
            code: .resourceExhausted,
            message: subscribed
                ? "an xDS stream may subscribe to at most \(maxResourceNamesPerRequest) resources of one type (--xds-max-resource-names); this one subscribes to \(count)"
                : "a DiscoveryRequest may name at most \(maxResourceNamesPerRequest) resources (--xds-max-resource-names); this one names \(count)")
    }
}

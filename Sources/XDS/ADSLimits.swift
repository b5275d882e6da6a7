/// Bounds on what xDS clients may make meshd hold. Each is a meshd flag; the defaults are sized
/// for real meshes (an Envoy subscribes to EDS for every cluster it sees).
public struct ADSLimits: Sendable, Hashable {
    /// Concurrent ADS streams across all connections; more are refused with RESOURCE_EXHAUSTED.
    public var maxStreams: Int
    /// Resource names in one DiscoveryRequest; a larger request ends its stream with
    /// RESOURCE_EXHAUSTED.
    public var maxResourceNamesPerRequest: Int
    /// Largest DiscoveryRequest accepted, in bytes (enforced by the gRPC transport).
    public var maxRequestBytes: Int

    /// Creates limits; the defaults hold 25,000 proxies subscribing to 100,000 names each.
    public init(maxStreams: Int = 25_000, maxResourceNamesPerRequest: Int = 100_000, maxRequestBytes: Int = 16 << 20) {
        self.maxStreams = maxStreams
        self.maxResourceNamesPerRequest = maxResourceNamesPerRequest
        self.maxRequestBytes = maxRequestBytes
    }
}

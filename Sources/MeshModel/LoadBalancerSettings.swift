/// Istio `LoadBalancerSettings`: a simple policy or consistent hashing (one of them), locality
/// load balancing and slow start. `zoneAwareLbSetting` is not modelled (a schema warning).
public struct LoadBalancerSettings: Sendable, Hashable {
    /// Istio's `SimpleLB` names.
    public enum Simple: String, Sendable, Hashable, CaseIterable {
        /// The default (round robin for gRPC).
        case unspecified = "UNSPECIFIED"
        /// Deprecated by Istio: an alias of LEAST_REQUEST.
        case leastConn = "LEAST_CONN"
        /// A random endpoint.
        case random = "RANDOM"
        /// The caller's original destination.
        case passthrough = "PASSTHROUGH"
        /// Round robin.
        case roundRobin = "ROUND_ROBIN"
        /// The endpoint with fewer outstanding requests of two.
        case leastRequest = "LEAST_REQUEST"
    }

    /// `simple`, nil when absent.
    public var simple: Simple?
    /// `consistentHash`, nil when absent.
    public var consistentHash: ConsistentHashSettings?

    /// `localityLbSetting`, nil when absent.
    public var localityLbSetting: LocalityLoadBalancerSetting?
    /// `warmup` (or `warmupDurationSecs`), nil when absent.
    public var warmup: WarmupConfiguration?

    /// Creates load-balancer settings.
    public init(
        simple: Simple? = nil, consistentHash: ConsistentHashSettings? = nil,
        localityLbSetting: LocalityLoadBalancerSetting? = nil, warmup: WarmupConfiguration? = nil
    ) {
        self.simple = simple
        self.consistentHash = consistentHash
        self.localityLbSetting = localityLbSetting
        self.warmup = warmup
    }
}

extension LoadBalancerSettings {
    /// Reads `loadBalancer`; nil when absent.
    init?(readingIfPresent r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { return nil }
        // `simple` and `consistentHash` are a protobuf oneof: both set is not a valid message.
        if !r["simple"].isAbsent, !r["consistentHash"].isAbsent {
            throw r.error("only one of simple or consistentHash may be set")
        }
        let name = try r["simple"].oneOf(Simple.allCases.map(\.rawValue), what: "load balancer")
        simple = name.flatMap(Simple.init(rawValue:))
        consistentHash = try ConsistentHashSettings(readingIfPresent: r["consistentHash"])
        if !r["localityLbSetting"].isAbsent, !r["zoneAwareLbSetting"].isAbsent {
            throw r.error("only one of localityLbSetting and zoneAwareLbSetting can be set")
        }
        localityLbSetting = try LocalityLoadBalancerSetting(readingIfPresent: r["localityLbSetting"])
        warmup = try WarmupConfiguration(readingFrom: r)
    }
}

/// Istio `TrafficPolicy` of a DestinationRule or of one of its subsets: the four policy blocks,
/// and per-port overrides of them.
///
/// Fields meshd does not model (`tunnel`, `proxyProtocol`, `retryBudget`) stay in the stored spec
/// and are answered with a warning by `IstioSchema`.
public struct TrafficPolicy: Sendable, Hashable {
    /// The blocks that apply to every port without a port-level entry.
    public var settings: PolicySettings
    /// Per-port replacements of `settings`, in document order; the first entry for a port wins.
    public var portLevelSettings: [PortTrafficPolicy]

    /// Creates a traffic policy.
    public init(settings: PolicySettings = PolicySettings(), portLevelSettings: [PortTrafficPolicy] = []) {
        self.settings = settings
        self.portLevelSettings = portLevelSettings
    }
}

/// The four blocks a traffic policy (or a port-level entry) sets; nil means "not set here".
public struct PolicySettings: Sendable, Hashable {
    /// `loadBalancer`.
    public var loadBalancer: LoadBalancerSettings?
    /// `connectionPool`.
    public var connectionPool: ConnectionPoolSettings?
    /// `outlierDetection`.
    public var outlierDetection: OutlierDetection?
    /// `tls`; nil when absent (the merge replaces the whole block when present, mode or not).
    public var tls: ClientTLSSettings?

    /// Creates policy settings.
    public init(
        loadBalancer: LoadBalancerSettings? = nil, connectionPool: ConnectionPoolSettings? = nil,
        outlierDetection: OutlierDetection? = nil, tls: ClientTLSSettings? = nil
    ) {
        self.loadBalancer = loadBalancer
        self.connectionPool = connectionPool
        self.outlierDetection = outlierDetection
        self.tls = tls
    }

    /// Creates policy settings with TLS given by its mode alone.
    public init(
        loadBalancer: LoadBalancerSettings? = nil, connectionPool: ConnectionPoolSettings? = nil,
        outlierDetection: OutlierDetection? = nil, tlsMode: String?
    ) {
        self.init(
            loadBalancer: loadBalancer, connectionPool: connectionPool, outlierDetection: outlierDetection,
            tls: tlsMode.map { ClientTLSSettings(mode: ClientTLSSettings.Mode(rawValue: $0)) })
    }

    /// `tls.mode` as written (`DISABLE`, `SIMPLE`, `MUTUAL`, `ISTIO_MUTUAL`); nil when `tls` or its mode is absent.
    public var tlsMode: String? { tls?.mode?.rawValue }

    /// Whether no block is set.
    public var isEmpty: Bool { loadBalancer == nil && connectionPool == nil && outlierDetection == nil && tls == nil }
}

/// One entry of `portLevelSettings`.
public struct PortTrafficPolicy: Sendable, Hashable {
    /// `port.number`.
    public var port: UInt32
    /// The blocks for that port; they replace the destination-level ones wholesale.
    public var settings: PolicySettings

    /// Creates a port-level entry.
    public init(port: UInt32, settings: PolicySettings) {
        self.port = port
        self.settings = settings
    }
}

extension TrafficPolicy {
    /// Istio's `GetPortLevelTrafficPolicy`: the port's entry when there is one (then nothing is
    /// inherited from the destination level: an omitted block takes its default), else the
    /// destination-level blocks. `portLevel` says which.
    public func settings(forPort port: UInt32) -> (settings: PolicySettings, portLevel: Bool) {
        if let entry = portLevelSettings.first(where: { $0.port == port }) { return (entry.settings, true) }
        return (settings, false)
    }

    /// The blocks that apply to `port` of a subset with policy `subset` under the rule's
    /// `top`-level policy, merged as Istio's `MergeSubsetTrafficPolicy` does: first each level's
    /// port-level entry is chosen; then a subset port-level entry replaces all four blocks, while
    /// a subset-wide policy replaces only the blocks it sets.
    public static func merged(top: TrafficPolicy?, subset: TrafficPolicy?, port: UInt32) -> PolicySettings {
        let original = top?.settings(forPort: port).settings
        guard let subset else { return original ?? PolicySettings() }
        let (overlay, portLevel) = subset.settings(forPort: port)
        guard var merged = original else { return overlay }
        if portLevel { return overlay }
        if let value = overlay.loadBalancer { merged.loadBalancer = value }
        if let value = overlay.connectionPool { merged.connectionPool = value }
        if let value = overlay.outlierDetection { merged.outlierDetection = value }
        if let value = overlay.tls { merged.tls = value }
        return merged
    }
}

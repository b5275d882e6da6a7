/// Istio's slow start for new endpoints (`loadBalancer.warmup`, or the older
/// `warmupDurationSecs`): an endpoint's share of traffic ramps up over `duration` after it
/// joins. Envoy's `slow_start_config`; gRPC clients have no slow start.
public struct WarmupConfiguration: Sendable, Hashable {
    /// How long the ramp lasts.
    public var duration: Duration
    /// The share (percent) a new endpoint starts with; nil: Envoy's default (10).
    public var minimumPercent: Double?
    /// How fast the ramp rises (1 is linear); nil: Envoy's default (1).
    public var aggression: Double?

    /// Creates a warmup configuration.
    public init(duration: Duration, minimumPercent: Double? = nil, aggression: Double? = nil) {
        self.duration = duration
        self.minimumPercent = minimumPercent
        self.aggression = aggression
    }
}

extension WarmupConfiguration {
    /// Reads `warmup`, else `warmupDurationSecs`, from a `loadBalancer` object (Istio's rules:
    /// a duration is required, minimumPercent at most 100, aggression above 0). `warmup` wins
    /// when both are set, as in Istio.
    init?(readingFrom lb: FieldReader) throws(MeshModelError) {
        let r = lb["warmup"]
        guard try r.object() != nil else {
            guard let legacy = try lb["warmupDurationSecs"].durationValue() else { return nil }
            self.init(duration: legacy)
            return
        }
        guard let duration = try r["duration"].durationValue() else { throw r["duration"].error("duration is required") }
        let minimum = try Self.number(r["minimumPercent"])
        if let minimum, minimum > 100 || minimum < 0 {
            throw r["minimumPercent"].error("minimumPercent value should be less than or equal to 100")
        }
        let aggression = try Self.number(r["aggression"])
        if let aggression, aggression <= 0 { throw r["aggression"].error("aggression should be greater than 0") }
        self.init(duration: duration, minimumPercent: minimum, aggression: aggression)
    }

    /// A protobuf `DoubleValue` in JSON: a finite number.
    private static func number(_ r: FieldReader) throws(MeshModelError) -> Double? {
        guard !r.isAbsent else { return nil }
        guard case .number(let value)? = r.value, value.isFinite else { throw r.error("expected a number") }
        return value
    }
}

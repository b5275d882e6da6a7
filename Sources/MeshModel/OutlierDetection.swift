/// Istio `OutlierDetection`, validated with Istio's rules (`validateOutlierDetection`).
public struct OutlierDetection: Sendable, Hashable {
    /// Istio's documented default `interval` (Envoy's and gRPC's too).
    public static let defaultInterval = Duration.seconds(10)
    /// Istio's documented default `baseEjectionTime`.
    public static let defaultBaseEjectionTime = Duration.seconds(30)
    /// Istio's documented default `maxEjectionPercent`.
    public static let defaultMaxEjectionPercent: UInt32 = 10

    /// `consecutive5xxErrors` (a UInt32Value; 0 disables).
    public var consecutive5xxErrors: UInt32?
    /// `consecutiveGatewayErrors` (a UInt32Value; 0 disables).
    public var consecutiveGatewayErrors: UInt32?
    /// `interval` between ejection sweeps.
    public var interval: Duration?
    /// `baseEjectionTime`.
    public var baseEjectionTime: Duration?
    /// `maxEjectionPercent` (0–100).
    public var maxEjectionPercent: Int32?
    /// `minHealthPercent` (0–100): Envoy's panic threshold.
    public var minHealthPercent: Int32?
    /// `splitExternalLocalOriginErrors`: count connection failures apart from 5xx answers.
    public var splitExternalLocalOriginErrors: Bool = false
    /// `consecutiveLocalOriginFailures` (with the split on).
    public var consecutiveLocalOriginFailures: UInt32?

    /// Creates outlier-detection settings.
    public init(
        consecutive5xxErrors: UInt32? = nil, consecutiveGatewayErrors: UInt32? = nil, interval: Duration? = nil,
        baseEjectionTime: Duration? = nil, maxEjectionPercent: Int32? = nil, minHealthPercent: Int32? = nil
    ) {
        self.consecutive5xxErrors = consecutive5xxErrors
        self.consecutiveGatewayErrors = consecutiveGatewayErrors
        self.interval = interval
        self.baseEjectionTime = baseEjectionTime
        self.maxEjectionPercent = maxEjectionPercent
        self.minHealthPercent = minHealthPercent
    }
}

extension OutlierDetection {
    /// Reads `outlierDetection`; nil when absent.
    init?(readingIfPresent r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { return nil }
        _ = try r["consecutiveErrors"].int32()  // deprecated and ignored by Istio; type-checked only
        let split = try r["splitExternalLocalOriginErrors"].boolean() ?? false
        let localOrigin = try r["consecutiveLocalOriginFailures"].uint32()
        if !split, let localOrigin, localOrigin > 0 {
            throw r["consecutiveLocalOriginFailures"].error(
                "outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false")
        }
        for code in try r["outlierDetectionHttpErrorCodes"].list() { _ = try code.uint32() }
        self.init(
            consecutive5xxErrors: try r["consecutive5xxErrors"].uint32(),
            consecutiveGatewayErrors: try r["consecutiveGatewayErrors"].uint32(),
            interval: try r["interval"].durationValue(),
            baseEjectionTime: try r["baseEjectionTime"].durationValue(),
            maxEjectionPercent: try r["maxEjectionPercent"].percent(),
            minHealthPercent: try r["minHealthPercent"].percent())
        splitExternalLocalOriginErrors = split
        consecutiveLocalOriginFailures = localOrigin
    }
}

extension FieldReader {
    /// Istio's `ValidatePercent`: an int32 in 0...100; nil when absent.
    fileprivate func percent() throws(MeshModelError) -> Int32? {
        try integer(in: 0...100, message: "must be a percentage between 0 and 100").map { Int32($0) }
    }
}

import MeshCommon

/// A canary's spec (kind `Canary`, `meshd.io/v1alpha1`): which VirtualService's weights move
/// from one subset of a host to another, in which steps, and the bounds the new subset's
/// observed traffic must stay within for each step to be taken (docs/canary-steps.md).
///
/// ```yaml
/// spec:
///   host: reviews.default.svc.cluster.local
///   from: v1
///   to: v2
///   steps: [10, 25, 50, 100]
///   interval: 1m
///   analysis: {maxErrorRate: 1, maxP99: 500ms, minRequests: 100, source: any}
/// ```
public struct CanarySpec: Sendable, Hashable {
    /// Which observed traffic judges the new subset (docs/observed-traffic.md's sources).
    public enum Source: String, Sendable, Hashable, CaseIterable {
        /// Every source that saw enough requests; any one out of bounds fails the step.
        case any
        /// Proxyless gRPC clients' attempt metrics.
        case client
        /// The destination workloads' server metrics.
        case destination
        /// Envoy sidecars' and gateways' upstream statistics.
        case envoy
    }

    /// The bounds of one step.
    public struct Analysis: Sendable, Hashable {
        /// The highest share of the new subset's requests that may fail, percent (0–100).
        public var maxErrorPercent: Double
        /// The highest 99th-percentile latency of the new subset; nil: latency is not judged.
        public var maxP99: Duration?
        /// The fewest requests to the new subset an interval must see to be judged (0: none).
        public var minRequests: Int
        /// Which observed traffic is read.
        public var source: Source

        /// Creates bounds; the defaults are 1% errors, no latency bound, 100 requests, any source.
        public init(maxErrorPercent: Double = 1, maxP99: Duration? = nil, minRequests: Int = 100, source: Source = .any) {
            self.maxErrorPercent = maxErrorPercent
            self.maxP99 = maxP99
            self.minRequests = minRequests
            self.source = source
        }
    }

    /// The destination host whose subsets move, as written (a short name is resolved in the
    /// canary's namespace).
    public var host: String
    /// The VirtualService (in the canary's namespace) to step; nil: the one naming `host`.
    public var virtualService: String?
    /// The subset traffic moves away from.
    public var from: String
    /// The subset traffic moves to.
    public var to: String
    /// The weight of `to` at each step: strictly increasing, 1–100.
    public var steps: [Int]
    /// How long each step is watched.
    public var interval: Duration
    /// The bounds each step is judged by.
    public var analysis: Analysis

    /// The shortest and longest interval accepted: a rate over less than two seconds holds too
    /// few scrapes; over an hour a step is better taken by hand.
    public static let intervalBounds: ClosedRange<Int> = 2...3600
    /// At most this many steps.
    public static let maximumSteps = 100

    /// Creates a spec.
    public init(
        host: String, virtualService: String? = nil, from: String, to: String, steps: [Int], interval: Duration,
        analysis: Analysis = Analysis()
    ) {
        self.host = host
        self.virtualService = virtualService
        self.from = from
        self.to = to
        self.steps = steps
        self.interval = interval
        self.analysis = analysis
    }

    /// The interval in whole seconds (validation admits only whole seconds).
    public var intervalSeconds: Int { Int(interval.components.seconds) }

    /// `host` as a fully qualified name, a short name resolved in `namespace`.
    public func resolvedHost(namespace: String) -> String { HostName.resolve(host, namespace: namespace) }
}

extension CanarySpec {
    init(reading spec: FieldReader) throws(MeshModelError) {
        let host = try spec["host"].requiredString()
        guard !host.isEmpty, !host.contains("*") else { throw spec["host"].error("must name one host, without wildcards") }
        self.host = host
        virtualService = try spec["virtualService"].string()
        if let name = virtualService, !NameRules.isDNS1123Subdomain(name) {
            throw spec["virtualService"].error(NameRules.subdomainRule)
        }
        from = try spec["from"].requiredString()
        to = try spec["to"].requiredString()
        for (field, subset) in [("from", from), ("to", to)] where !NameRules.isDNS1123Label(subset) {
            throw spec[field].error("invalid subset name: \(NameRules.labelRule)")
        }
        guard from != to else { throw spec["to"].error("must name a subset other than from (\"\(from)\")") }
        steps = try Self.readSteps(spec["steps"])
        interval = try Self.readInterval(spec["interval"])
        analysis = try Analysis(reading: spec["analysis"])
    }

    private static func readSteps(_ field: FieldReader) throws(MeshModelError) -> [Int] {
        let items = try field.list()
        guard !items.isEmpty else { throw field.error("required: the weight of the new subset at each step, such as [10, 25, 50, 100]") }
        guard items.count <= maximumSteps else { throw field.error("at most \(maximumSteps) steps") }
        var steps: [Int] = []
        for item in items {
            guard let weight = try item.integer(in: 1...100, message: "a step is a weight from 1 to 100") else {
                throw item.error("required")
            }
            if let last = steps.last, weight <= last {
                throw item.error("steps must increase: \(weight) follows \(last)")
            }
            steps.append(weight)
        }
        return steps
    }

    private static func readInterval(_ field: FieldReader) throws(MeshModelError) -> Duration {
        guard let text = try field.string() else { throw field.error("required: how long each step is watched, such as 1m") }
        guard let duration = IstioDuration.parse(text) else { throw field.error("invalid duration \"\(text)\"") }
        let (seconds, attoseconds) = duration.components
        guard attoseconds == 0, let whole = Int(exactly: seconds), intervalBounds.contains(whole) else {
            throw field.error("must be whole seconds from \(intervalBounds.lowerBound)s to 1h")
        }
        return duration
    }
}

extension CanarySpec.Analysis {
    init(reading field: FieldReader) throws(MeshModelError) {
        self.init()
        guard try field.object() != nil else { return }
        if let rate = try Self.readRate(field["maxErrorRate"]) { maxErrorPercent = rate }
        maxP99 = try field["maxP99"].durationValue()
        if let minimum = try field["minRequests"].integer(in: 0...1_000_000_000, message: "must be from 0 to 1000000000") {
            minRequests = minimum
        }
        if let source = try field["source"].oneOf(CanarySpec.Source.allCases.map(\.rawValue), what: "source") {
            self.source = CanarySpec.Source(rawValue: source) ?? .any
        }
    }

    /// A percentage as a number (`1`, `0.5`) or text with a percent sign (`"1%"`), 0–100.
    private static func readRate(_ field: FieldReader) throws(MeshModelError) -> Double? {
        guard let value = field.value, value != .null else { return nil }
        let number: Double?
        switch value {
        case .number(let n): number = n
        case .string(let text) where text.hasSuffix("%"): number = Double(text.dropLast())
        default: number = nil
        }
        guard let number, number.isFinite else { throw field.error("expected a percentage such as 1 or \"1%\"") }
        guard (0...100).contains(number) else { throw field.error("must be between 0 and 100") }
        return number
    }
}

extension IstioSchema {
    /// The schema of meshd's own kinds, walked like Istio's so an unknown field is refused at its
    /// path (`spec.analysis.maxErorRate`).
    static let meshdRoots: [String: String] = ["Canary": "meshd.Canary"]

    static let meshdMessages: [String: [String: SchemaNode]] = [
        "meshd.Canary": [
            "host": .scalar, "virtualService": .scalar, "from": .scalar, "to": .scalar, "steps": .list(.scalar),
            "interval": .scalar, "analysis": .message("meshd.Canary.Analysis"),
        ],
        "meshd.Canary.Analysis": ["maxErrorRate": .scalar, "maxP99": .scalar, "minRequests": .scalar, "source": .scalar],
    ]
}

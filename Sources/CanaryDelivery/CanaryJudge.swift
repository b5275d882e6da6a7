import MeshModel
import ObservedTraffic

/// What a canary's step looked like: the verdict on the new subset's observed traffic over a
/// window, and its reason in words.
public struct CanaryVerdict: Sendable, Hashable {
    /// The three outcomes a window can have.
    public enum Outcome: Sendable, Hashable {
        /// Enough requests, every source within the bounds.
        case withinBounds
        /// Enough requests, and a source saw errors or latency beyond the bounds.
        case outOfBounds
        /// No source saw the minimum number of requests.
        case tooFewRequests
    }

    /// The outcome.
    public var outcome: Outcome
    /// Why, naming the numbers and the source.
    public var reason: String
    /// The numbers the outcome rests on (the failing source's, else the busiest one's).
    public var observation: CanaryStatus.Observation?
}

/// Judges the new subset's traffic against a canary's bounds (pure).
///
/// Each source is read on its own, as `/api/v1/traffic` shows it: a source is conclusive when
/// it saw at least `minRequests` requests to the new subset over the window. Any conclusive
/// source out of bounds fails the step — a mesh usually has more than one kind of proxy, and
/// the clients of one kind failing is a failure even when another kind's look fine; with
/// `source` set, only that source is read.
public enum CanaryJudge {
    /// The verdict on `traffic` (nil: nothing is known of the host) for `spec`'s new subset.
    public static func judge(_ traffic: TrafficReport.ServiceTraffic?, spec: CanarySpec, windowSeconds: Int) -> CanaryVerdict {
        let analysis = spec.analysis
        let sources = analysis.source == .any ? TrafficSource.allCases : TrafficSource.allCases.filter { $0.rawValue == analysis.source.rawValue }
        let observations: [CanaryStatus.Observation] = sources.compactMap { source in
            guard let row = traffic?.sources[source]?.first(where: { $0.subset == spec.to }) else { return nil }
            let requests = row.requestsPerSecond * Double(windowSeconds)
            return CanaryStatus.Observation(
                source: source.rawValue, requests: requests.isFinite ? Int(min(max(requests.rounded(), 0), 1e15)) : 0,
                errorPercent: row.errorPercent, p99Ms: row.p99Ms, windowSeconds: windowSeconds)
        }
        let minimum = max(analysis.minRequests, 1)
        let conclusive = observations.filter { $0.requests >= minimum }
        for observation in conclusive {
            if let problem = problem(observation, analysis) {
                return CanaryVerdict(outcome: .outOfBounds, reason: "\(spec.to): \(problem); \(describe(observation))", observation: observation)
            }
        }
        if let busiest = conclusive.max(by: { $0.requests < $1.requests }) {
            return CanaryVerdict(outcome: .withinBounds, reason: "\(spec.to) within bounds: \(describe(busiest))", observation: busiest)
        }
        if analysis.minRequests == 0 {
            return CanaryVerdict(
                outcome: .withinBounds, reason: "\(spec.to): no requests seen over \(windowSeconds)s, and minRequests is 0", observation: nil)
        }
        let seen = observations.max(by: { $0.requests < $1.requests })
        let what =
            seen.map { "\($0.requests) requests to \(spec.to) over \(windowSeconds)s (\($0.source))" }
            ?? "no requests to \(spec.to) seen over \(windowSeconds)s by \(analysis.source == .any ? "any source" : "the \(analysis.source.rawValue) source")"
        return CanaryVerdict(
            outcome: .tooFewRequests, reason: "too little traffic: \(what), fewer than minRequests \(analysis.minRequests)", observation: seen)
    }

    /// What is out of bounds in `observation`, or nil.
    private static func problem(_ observation: CanaryStatus.Observation, _ analysis: CanarySpec.Analysis) -> String? {
        if let errors = observation.errorPercent, errors > analysis.maxErrorPercent {
            return "error rate \(percent(errors)) above maxErrorRate \(percent(analysis.maxErrorPercent))"
        }
        if let bound = analysis.maxP99, let p99 = observation.p99Ms {
            let boundMs = Double(bound.components.seconds) * 1000 + Double(bound.components.attoseconds) / 1e15
            if p99 > boundMs { return "p99 \(milliseconds(p99)) above maxP99 \(milliseconds(boundMs))" }
        }
        return nil
    }

    /// `0.0% errors, p99 4.5ms over 60s (1210 requests, client)`.
    static func describe(_ observation: CanaryStatus.Observation) -> String {
        let errors = observation.errorPercent.map(percent) ?? "-"
        let p99 = observation.p99Ms.map(milliseconds) ?? "-"
        return "\(errors) errors, p99 \(p99) over \(observation.windowSeconds)s (\(observation.requests) requests, \(observation.source))"
    }

    static func percent(_ value: Double) -> String { "\(rounded(value, places: 2))%" }

    static func milliseconds(_ value: Double) -> String { "\(rounded(value, places: 2))ms" }

    private static func rounded(_ value: Double, places: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        let scale = places == 2 ? 100.0 : 10.0
        let text = String((value * scale).rounded() / scale)
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }
}

import MeshModel

/// The span a rate or quantile is taken over (PromQL's range, `[30s]`).
public struct TrafficWindow: Sendable, Hashable, CustomStringConvertible {
    /// The span in whole seconds.
    public let seconds: Int

    /// The default: 30 s, long enough to smooth a 1 s to 15 s scrape interval (Prometheus wants
    /// at least four scrapes in a rate's range), short enough to see a weight change land.
    public static let standard = TrafficWindow(checkedSeconds: 30)
    /// The bounds accepted: below 5 s a rate holds too few scrapes; above an hour it is history,
    /// which Prometheus' own UI answers better.
    public static let bounds = 5...3600

    private init(checkedSeconds: Int) { self.seconds = checkedSeconds }

    /// The window of a canary's step: its interval, which the operator chose knowing the scrape
    /// interval, so it may be shorter than `bounds` admits from a query (down to 2 s, a rate's
    /// two scrapes at Prometheus' shortest sensible 1 s interval); clamped to 2 s–1 h.
    public init(stepSeconds: Int) { self.seconds = min(max(stepSeconds, 2), Self.bounds.upperBound) }

    /// Parses `30s`, `1m`, `1m30s`, `2h` (Istio's duration syntax, whole seconds).
    /// - Throws: `ObservedTrafficError.badRequest` naming the problem.
    public init(parsing text: String) throws(ObservedTrafficError) {
        guard let duration = IstioDuration.parse(text) else {
            throw .badRequest("window \"\(text)\" is not a duration such as 30s, 1m or 5m")
        }
        let (seconds, attoseconds) = duration.components
        guard attoseconds == 0, let whole = Int(exactly: seconds), Self.bounds.contains(whole) else {
            throw .badRequest("window \"\(text)\" must be whole seconds from 5s to 1h")
        }
        self.seconds = whole
    }

    /// PromQL's range: `[30s]`.
    var range: String { "[\(seconds)s]" }

    /// `30s`, `90s`: how the answer names the window.
    public var description: String { "\(seconds)s" }
}

/// Durations as Istio writes them in YAML: Go's `time.ParseDuration` syntax without a sign,
/// e.g. `5s`, `1.5s`, `250ms`, `1m30s`, `1h`.
public enum IstioDuration {
    private static let unitsInNanoseconds: [(suffix: String, nanoseconds: Double)] = [
        // Longer suffixes first so `ms` is not read as `m` followed by garbage.
        ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
    ]

    /// Parses a duration; `nil` when the text is not a valid non-negative duration.
    /// `"0"` alone is accepted, as Go accepts it.
    public static func parse(_ text: String) -> Duration? {
        if text == "0" { return .zero }
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1,
                  let value = Double(number.hasPrefix(".") ? "0" + number : String(number)) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = unitsInNanoseconds.first(where: { rest.hasPrefix($0.suffix) }) else { return nil }
            rest = rest.dropFirst(unit.suffix.count)
            total += value * unit.nanoseconds
        }
        guard total < Double(Int64.max) else { return nil }
        return .nanoseconds(Int64(total.rounded()))
    }

    /// The largest duration meshd accepts: Swift's `Duration` in nanoseconds stops at Int64
    /// (about 292 years), below google.protobuf.Duration's 10,000 years.
    public static let maximum = Duration.nanoseconds(Int64.max)

    /// Why `text` is not a duration Istio accepts for a timeout (`ValidateDuration`: at least
    /// 1ms, whole milliseconds), or `nil` when it is one.
    public static func problem(in text: String) -> String? {
        guard let duration = parse(text) else {
            return "invalid duration \"\(text)\""
        }
        if duration < .milliseconds(1) { return "duration must be at least 1ms" }
        let (_, attoseconds) = duration.components
        if attoseconds % 1_000_000_000_000_000 != 0 { return "only durations to ms precision are supported" }
        return nil
    }
}

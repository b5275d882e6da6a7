/// The one duration grammar of meshd: Go's `time.ParseDuration` without a sign — numbers (with an
/// optional fraction) each followed by a unit, `ns`, `us`/`µs`, `ms`, `s`, `m` or `h`, repeated
/// (`1h30m`, `1.5s`, `250ms`), or `0` alone. Istio's fields use exactly that; values an operator
/// types (flags, token lifetimes) also take `d` for 24 hours, as `7d`. docs/operations.md lists
/// which flags take which.
public enum DurationSyntax {
    /// Which units a value may use.
    public enum Units: Sendable {
        /// Go's units (Istio's fields).
        case go
        /// Go's units and `d` (operator input).
        case withDays
    }

    private static let goUnits: [(suffix: String, nanoseconds: Double)] = [
        // Longer suffixes first so `ms` is not read as `m` followed by garbage.
        ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
    ]
    private static let dayUnit: [(suffix: String, nanoseconds: Double)] = [("d", 86_400e9)]

    /// Parses `text`; nil when it is not a valid non-negative duration in `units`, or does not
    /// fit Swift's `Duration` in nanoseconds (about 292 years). Never traps.
    public static func parse(_ text: String, units: Units = .go) -> Duration? {
        if text == "0" { return .zero }
        let table: [(suffix: String, nanoseconds: Double)]
        switch units {
        case .go: table = goUnits
        case .withDays: table = goUnits + dayUnit
        }
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1,
                let value = Double(number.hasPrefix(".") ? "0" + number : String(number))
            else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = table.first(where: { rest.hasPrefix($0.suffix) }) else { return nil }
            rest = rest.dropFirst(unit.suffix.count)
            total += value * unit.nanoseconds
        }
        guard total < Double(Int64.max) else { return nil }
        return .nanoseconds(Int64(total.rounded()))
    }

    /// `duration` in whole seconds when it is a positive whole number of seconds, else nil.
    public static func wholeSeconds(_ duration: Duration) -> Int64? {
        let (seconds, attoseconds) = duration.components
        return attoseconds == 0 && seconds > 0 ? seconds : nil
    }
}

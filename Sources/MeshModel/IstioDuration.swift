import MeshCommon

/// Durations as Istio writes them in YAML: Go's `time.ParseDuration` syntax without a sign,
/// e.g. `5s`, `1.5s`, `250ms`, `1m30s`, `1h`.
public enum IstioDuration {
    /// Parses a duration (`DurationSyntax`, Go's units); `nil` when the text is not a valid
    /// non-negative duration. `"0"` alone is accepted, as Go accepts it.
    public static func parse(_ text: String) -> Duration? {
        DurationSyntax.parse(text, units: .go)
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

import ArgumentParser
import Foundation
import MeshCommon

/// A certificate lifetime as the operator types it, in meshd's one duration grammar
/// (`DurationSyntax` with days: `24h`, `1h30m`, `90s`, `7d`), whole seconds only because the CA
/// API carries seconds.
///
/// Go's syntax rather than ISO 8601 because it is what `meshctl token create --ttl` and every
/// Kubernetes/Istio flag accept, so one habit covers all of them.
struct ValidityDuration: Sendable, Equatable, ExpressibleByArgument, CustomStringConvertible {
    /// The duration in seconds; always at least 1.
    let seconds: Int64

    /// Seconds per unit suffix.

    init(seconds: Int64) {
        precondition(seconds > 0, "a validity duration must be positive")
        self.seconds = seconds
    }

    /// Parses meshd's duration grammar with days (`DurationSyntax`, `.withDays`: `24h`, `1h30m`,
    /// `7d`); nil when malformed, zero, overflowing or not a whole number of seconds.
    init?(parsing text: String) {
        guard let duration = DurationSyntax.parse(text.trimmingCharacters(in: .whitespaces), units: .withDays),
            let seconds = DurationSyntax.wholeSeconds(duration)
        else { return nil }
        self.init(seconds: seconds)
    }

    init?(argument: String) {
        self.init(parsing: argument)
    }

    /// The shortest Go-style form: `24h`, `1h30m`, `90s` prints as `1m30s`.
    var description: String {
        var rest = seconds
        var text = ""
        for (unit, size) in [("h", Int64(3_600)), ("m", 60), ("s", 1)] where rest >= size {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        return text
    }
}

import ArgumentParser
import Foundation

/// A certificate lifetime as the operator types it: Go-style `24h`, `1h30m`, `90s` (and `d` for
/// days), whole seconds only because the CA API carries seconds.
///
/// Go's syntax rather than ISO 8601 because it is what `meshctl token create --ttl` and every
/// Kubernetes/Istio flag accept, so one habit covers all of them.
struct ValidityDuration: Sendable, Equatable, ExpressibleByArgument, CustomStringConvertible {
    /// The duration in seconds; always at least 1.
    let seconds: Int64

    /// Seconds per unit suffix.
    private static let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]

    init(seconds: Int64) {
        precondition(seconds > 0, "a validity duration must be positive")
        self.seconds = seconds
    }

    /// Parses `<number><unit>` repeated (`1h30m`); nil when malformed, zero or overflowing.
    init?(parsing text: String) {
        var total: Int64 = 0
        var number: Int64?
        for character in text.trimmingCharacters(in: .whitespaces) {
            if let digit = character.wholeNumberValue, character.isASCII {
                let (shifted, overflow1) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = shifted.addingReportingOverflow(Int64(digit))
                guard !overflow1, !overflow2 else { return nil }
                number = sum
            } else if let unit = Self.units[character], let value = number {
                let (product, overflow1) = value.multipliedReportingOverflow(by: unit)
                let (sum, overflow2) = total.addingReportingOverflow(product)
                guard !overflow1, !overflow2 else { return nil }
                total = sum
                number = nil
            } else {
                return nil
            }
        }
        // A trailing bare number ("90") is ambiguous: Go rejects it, and so do we.
        guard number == nil, total > 0 else { return nil }
        self.init(seconds: total)
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

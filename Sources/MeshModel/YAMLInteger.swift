/// YAML 1.1 integer scalars (`9080`, `0x1F`, `0o17`, `017`, `0b101`, `1_000`, base-60 `1:30`),
/// read by code that cannot trap.
///
/// Yams' own constructor multiplies base-60 digits without overflow checks, so a one-line body
/// (`a: 153722867280912931:0`) would stop the process. Here every step is checked; a value
/// beyond Int64 becomes its (inexact) Double magnitude, which typed validation then refuses
/// as out of range for the field.
enum YAMLInteger {
    /// The value of a scalar that Yams' resolver tagged as an integer, or `nil` when the text is
    /// not one after all.
    static func value(of text: String) -> Double? {
        var digits = Substring(text.filter { $0 != "_" })
        var negative = false
        if let sign = digits.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty else { return nil }
        let magnitude: Double?
        if digits.contains(":") {
            magnitude = sexagesimal(digits)
        } else if digits.hasPrefix("0x") {
            magnitude = positional(digits.dropFirst(2), radix: 16)
        } else if digits.hasPrefix("0b") {
            magnitude = positional(digits.dropFirst(2), radix: 2)
        } else if digits.hasPrefix("0o") {
            magnitude = positional(digits.dropFirst(2), radix: 8)
        } else if digits.count > 1, digits.hasPrefix("0") {
            magnitude = positional(digits.dropFirst(), radix: 8)
        } else {
            magnitude = positional(digits, radix: 10)
        }
        guard let magnitude else { return nil }
        return negative ? -magnitude : magnitude
    }

    /// Digits in `radix`: exact while the value fits Int64, then carried on in Double.
    private static func positional(_ digits: Substring, radix: Int) -> Double? {
        guard !digits.isEmpty else { return nil }
        var exact: Int64? = 0
        var approximate = 0.0
        for character in digits {
            guard let digit = character.hexDigitValue, digit < radix else { return nil }
            approximate = approximate * Double(radix) + Double(digit)
            if let value = exact {
                let (shifted, o1) = value.multipliedReportingOverflow(by: Int64(radix))
                let (sum, o2) = shifted.addingReportingOverflow(Int64(digit))
                exact = (o1 || o2) ? nil : sum
            }
        }
        return exact.map(Double.init) ?? approximate
    }

    /// `1:30:00` = 1×3600 + 30×60 + 0.
    private static func sexagesimal(_ digits: Substring) -> Double? {
        var exact: Int64? = 0
        var approximate = 0.0
        for part in digits.split(separator: ":", omittingEmptySubsequences: false) {
            guard let value = positional(part, radix: 10) else { return nil }
            approximate = approximate * 60 + value
            if let current = exact, value < 9.2e18 {
                let (shifted, o1) = current.multipliedReportingOverflow(by: 60)
                let (sum, o2) = shifted.addingReportingOverflow(Int64(value))
                exact = (o1 || o2) ? nil : sum
            } else {
                exact = nil
            }
        }
        return exact.map(Double.init) ?? approximate
    }
}

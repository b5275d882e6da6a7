/// The canonical text form, used for content equality and hashing across processes.
extension JSONValue {
    /// Serialises with object keys sorted by their UTF-8 bytes, no whitespace, and integral
    /// numbers printed without a fraction (`9080`, not `9080.0`).
    ///
    /// Deterministic: equal values give identical text on every platform and run, so the text
    /// (or a digest of it) can serve as a content version. Sorting by UTF-8 bytes rather than by
    /// `String` ordering keeps the result identical to what other languages produce.
    public func canonicalJSON() -> String {
        var out = ""
        writeCanonical(to: &out)
        return out
    }

    /// The canonical form over several lines: each member and element on its own line,
    /// indented by `indent` spaces per level, keys sorted as in `canonicalJSON()`. Meant for
    /// line diffs, where one changed value shows as one changed line.
    public func canonicalJSON(indent: Int) -> String {
        var out = ""
        writeIndented(to: &out, level: 0, indent: String(repeating: " ", count: max(0, indent)))
        return out
    }

    private func writeIndented(to out: inout String, level: Int, indent: String) {
        let inner = String(repeating: indent, count: level + 1)
        switch self {
        case .array(let elements) where !elements.isEmpty:
            out += "[\n"
            for (i, element) in elements.enumerated() {
                out += inner
                element.writeIndented(to: &out, level: level + 1, indent: indent)
                out += i == elements.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: indent, count: level) + "]"
        case .object(let members) where !members.isEmpty:
            out += "{\n"
            let keys = members.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (i, key) in keys.enumerated() {
                out += inner
                Self.writeString(key, to: &out)
                out += ": "
                members[key]!.writeIndented(to: &out, level: level + 1, indent: indent)
                out += i == keys.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: indent, count: level) + "}"
        default:
            writeCanonical(to: &out)
        }
    }

    private func writeCanonical(to out: inout String) {
        switch self {
        case .null:
            out += "null"
        case .bool(let b):
            out += b ? "true" : "false"
        case .number(let n):
            out += Self.canonicalNumber(n)
        case .string(let s):
            Self.writeString(s, to: &out)
        case .array(let elements):
            out += "["
            for (i, element) in elements.enumerated() {
                if i > 0 { out += "," }
                element.writeCanonical(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            let keys = members.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (i, key) in keys.enumerated() {
                if i > 0 { out += "," }
                Self.writeString(key, to: &out)
                out += ":"
                members[key]!.writeCanonical(to: &out)
            }
            out += "}"
        }
    }

    static func canonicalNumber(_ n: Double) -> String {
        // JSON has no NaN or infinity; parsing never yields them, but values built in code might.
        guard n.isFinite else { return "null" }
        // Within ±2^53 every integral Double is an exact integer, so printing it as one loses nothing.
        if n.rounded(.towardZero) == n, abs(n) <= 9_007_199_254_740_992 {
            return String(Int64(n))
        }
        return "\(n)"
    }

    private static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

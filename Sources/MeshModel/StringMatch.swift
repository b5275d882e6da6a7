/// How a string (a URI, a header value) is matched: Istio's `StringMatch`, exactly one of
/// `exact`, `prefix` or `regex` (RE2 syntax, checked by RE2 itself: see `RegexSyntax`).
public enum StringMatch: Sendable, Hashable {
    /// The whole string equals this.
    case exact(String)
    /// The string starts with this.
    case prefix(String)
    /// The whole string matches this RE2 expression.
    case regex(String)
}

extension StringMatch {
    /// Decodes `{exact|prefix|regex: "..."}`, requiring exactly one of the three.
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("required") }
        let present = ["exact", "prefix", "regex"].filter { !r[$0].isAbsent }
        guard present.count == 1, let which = present.first else {
            throw r.error("must set exactly one of exact, prefix, regex")
        }
        switch which {
        case "exact": self = try .exact(r[which].string() ?? "")
        case "prefix": self = try .prefix(r[which].string() ?? "")
        default: self = try .regex(r[which].regex() ?? "")
        }
    }
}

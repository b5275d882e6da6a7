/// A cursor into an untyped document: the value at one field and that field's path.
///
/// Typed decoding reads through it so every type error and rule violation carries the exact
/// Istio-style path (`spec.http[0].route[1].weight`) and the resource it belongs to.
/// A JSON `null` reads as absent, as protobuf's JSON mapping treats it.
struct FieldReader {
    /// The value at this field; `nil` when the field is absent.
    let value: JSONValue?
    /// The field path, e.g. `spec.http[0]`.
    let path: String
    /// The resource named in errors, e.g. `VirtualService default/reviews`.
    let resource: String?

    init(_ value: JSONValue?, path: String, resource: String?) {
        self.value = value
        self.path = path
        self.resource = resource
    }

    /// Whether the field is missing or `null`.
    var isAbsent: Bool { value == nil || value == .null }

    /// An `.invalid` error at this field.
    func error(_ message: String) -> MeshModelError {
        MeshModelError(code: .invalid, resource: resource, field: path, message: message)
    }

    /// The member `key` of this object (absent when this is not an object; `object()` reports that).
    subscript(key: String) -> FieldReader {
        FieldReader(value?[key], path: Self.path(path, appending: key), resource: resource)
    }

    /// Joins a key onto a path: `.key` when it reads as one, else `["key"]` so keys holding dots
    /// or slashes (`app.kubernetes.io/name`) cannot be mistaken for nesting.
    static func path(_ base: String, appending key: String) -> String {
        let plain =
            !key.isEmpty
            && key.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
            }
        let component = plain ? key : "[\"\(key)\"]"
        if base.isEmpty { return component }
        return plain ? "\(base).\(component)" : base + component
    }

    // MARK: - Scalars

    /// The string, or `nil` when absent.
    func string() throws(MeshModelError) -> String? {
        guard !isAbsent, let value else { return nil }
        guard case .string(let s) = value else { throw error("expected a string") }
        return s
    }

    /// The string; absent or empty is an error (`required`).
    func requiredString() throws(MeshModelError) -> String {
        guard let s = try string(), !s.isEmpty else { throw error("required") }
        return s
    }

    /// The integer, or `nil` when absent. A string of decimal digits is accepted too, as
    /// Istio's protobuf JSON decoding accepts quoted integers. A whole number beyond Int64 (or
    /// beyond 2^53, where a JSON number stops being exact) is refused as out of range, never
    /// rounded or trapped on.
    func integer() throws(MeshModelError) -> Int? {
        guard !isAbsent, let value else { return nil }
        switch value {
        case .number(let n):
            if let int = value.intValue { return int }
            if n.isFinite, n.rounded(.towardZero) == n { throw error("out of range for a 64-bit integer") }
        case .string(let s):
            let digits = s.hasPrefix("-") ? s.dropFirst() : Substring(s)
            if !digits.isEmpty, digits.utf8.allSatisfy({ (0x30...0x39).contains($0) }) {
                guard let int = Int(s) else { throw error("out of range for a 64-bit integer") }
                return int
            }
        default:
            break
        }
        throw error("expected an integer")
    }

    /// An integer in `range`, or `nil` when absent.
    func integer(in range: ClosedRange<Int>, message: String) throws(MeshModelError) -> Int? {
        guard let int = try integer() else { return nil }
        guard range.contains(int) else { throw error(message) }
        return int
    }

    /// A protobuf `int32`, or `nil` when absent.
    func int32() throws(MeshModelError) -> Int32? {
        try integer(
            in: Int(Int32.min)...Int(Int32.max),
            message: "must be between \(Int32.min) and \(Int32.max) (int32)"
        ).map { Int32($0) }
    }

    /// A protobuf `int32` that must not be negative, or `nil` when absent.
    func nonNegativeInt32() throws(MeshModelError) -> Int32? {
        guard let int = try int32() else { return nil }
        guard int >= 0 else { throw error("must not be negative") }
        return int
    }

    /// A protobuf `uint32`, or `nil` when absent.
    func uint32() throws(MeshModelError) -> UInt32? {
        guard let int = try integer() else { return nil }
        guard int >= 0 else { throw error("must not be negative") }
        guard int <= Int(UInt32.max) else { throw error("must be at most \(UInt32.max) (uint32)") }
        return UInt32(int)
    }

    /// The boolean, or `nil` when absent.
    func boolean() throws(MeshModelError) -> Bool? {
        guard !isAbsent, let value else { return nil }
        guard case .bool(let flag) = value else { throw error("expected a boolean") }
        return flag
    }

    /// A string that must be one of `allowed` (exact spelling, as protobuf enum names are);
    /// `nil` when absent.
    func oneOf(_ allowed: [String], what: String) throws(MeshModelError) -> String? {
        guard let value = try string() else { return nil }
        guard allowed.contains(value) else {
            throw error("invalid \(what) \"\(value)\"; supported: \(allowed.joined(separator: ", "))")
        }
        return value
    }

    /// A TCP/UDP port number (1...65535), or `nil` when absent.
    func port() throws(MeshModelError) -> UInt32? {
        try integer(in: 1...65535, message: "must be between 1 and 65535").map { UInt32($0) }
    }

    // MARK: - Containers

    /// Checks this is an object (when present) and returns its members.
    func object() throws(MeshModelError) -> [String: JSONValue]? {
        guard !isAbsent, let value else { return nil }
        guard case .object(let members) = value else { throw error("expected an object") }
        return members
    }

    /// Readers for the elements of a list; absent reads as an empty list.
    func list() throws(MeshModelError) -> [FieldReader] {
        guard !isAbsent, let value else { return [] }
        guard case .array(let elements) = value else { throw error("expected a list") }
        return elements.enumerated().map { FieldReader($1, path: "\(path)[\($0)]", resource: resource) }
    }

    /// A list of strings; absent reads as empty.
    func strings() throws(MeshModelError) -> [String] {
        var result: [String] = []
        for element in try list() {
            guard case .string(let s)? = element.value else { throw element.error("expected a string") }
            result.append(s)
        }
        return result
    }

    /// Readers for an object's members in key order, so the first error reported is stable.
    func members() throws(MeshModelError) -> [(key: String, reader: FieldReader)] {
        guard let members = try object() else { return [] }
        return members.keys.sorted().map { key in (key, self[key]) }
    }

    /// A map of strings (labels, annotations); absent reads as empty.
    func stringMap() throws(MeshModelError) -> [String: String] {
        var result: [String: String] = [:]
        for (key, reader) in try members() {
            guard case .string(let s)? = reader.value else { throw reader.error("expected a string") }
            result[key] = s
        }
        return result
    }

    // MARK: - Istio syntaxes

    /// A list of hosts, each checked with `NameRules.isHost`; absent reads as empty.
    func hosts() throws(MeshModelError) -> [String] {
        var result: [String] = []
        for element in try list() {
            guard case .string(let s)? = element.value else { throw element.error("expected a string") }
            guard NameRules.isHost(s) else { throw element.error("invalid host \"\(s)\"") }
            result.append(s)
        }
        return result
    }

    /// A duration string (`5s`, `250ms`) as Istio accepts it for timeouts: at least 1ms, whole
    /// milliseconds, within google.protobuf.Duration's range; `nil` when absent.
    func duration() throws(MeshModelError) -> String? {
        guard let text = try string() else { return nil }
        if let problem = IstioDuration.problem(in: text) { throw error(problem) }
        return text
    }

    /// `duration()` as a value, for fields the translator turns into protobuf durations.
    func durationValue() throws(MeshModelError) -> Duration? {
        guard let text = try duration() else { return nil }
        guard let value = IstioDuration.parse(text) else { throw error("invalid duration \"\(text)\"") }
        return value
    }

    /// A regex (RE2 syntax), checked by RE2 itself; `nil` when absent.
    func regex() throws(MeshModelError) -> String? {
        guard let text = try string() else { return nil }
        guard !text.isEmpty else { throw error("must not be empty") }
        if let problem = RegexSyntax.problem(in: text) { throw error(problem) }
        return text
    }
}

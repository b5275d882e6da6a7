/// Istio's `Headers`: header operations on the request a route forwards and on the response it
/// returns, at a rule (`http[].headers`) or one destination (`http[].route[].headers`).
///
/// As istiod: `set` overwrites (Envoy `OVERWRITE_IF_EXISTS_OR_ADD`), `add` appends
/// (`APPEND_IF_EXISTS_OR_ADD`), `remove` removes. Setting or adding `:authority` or `host` on
/// the request rewrites the authority instead (`host_rewrite_literal`); no other pseudo-header
/// and no `host` may be touched (Envoy refuses such a route).
public struct HeaderOperations: Sendable, Hashable {
    /// The operations on one message.
    public struct Operations: Sendable, Hashable {
        /// Headers overwritten (or added), by name.
        public var set: [String: String] = [:]
        /// Headers appended (or added), by name.
        public var add: [String: String] = [:]
        /// Headers removed.
        public var remove: [String] = []

        public init(set: [String: String] = [:], add: [String: String] = [:], remove: [String] = []) {
            self.set = set
            self.add = add
            self.remove = remove
        }

        /// Whether there is nothing to do.
        public var isEmpty: Bool { self.set.isEmpty && self.add.isEmpty && self.remove.isEmpty }
    }

    /// Operations on the request.
    public var request: Operations
    /// Operations on the response.
    public var response: Operations

    public init(request: Operations = Operations(), response: Operations = Operations()) {
        self.request = request
        self.response = response
    }

    /// The authority a request `set` (else `add`) of `:authority` or `host` asks for, as Istio
    /// reads it.
    public var authority: String? {
        func find(_ map: [String: String]) -> String? {
            map.keys.sorted().first(where: Self.isAuthority).flatMap { map[$0] }
        }
        return find(request.set) ?? find(request.add)
    }

    /// `:authority` or `host`, any case.
    public static func isAuthority(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower == ":authority" || lower == "host"
    }

    /// The longest header name or value Envoy accepts.
    public static let maxLength = 16_384

    /// Why `value` cannot be a header value Envoy accepts (no NUL, CR, LF; at most 16 KiB), or nil
    /// when it can. A `formatted` value (a header operation's, which Envoy reads for `%VAR%`
    /// substitutions) must also have its `%` in pairs; a path or authority need not.
    public static func valueProblem(_ value: String, formatted: Bool = true) -> String? {
        if value.utf8.count > maxLength { return "must be at most \(maxLength) bytes" }
        if value.unicodeScalars.contains(where: { $0 == "\0" || $0 == "\r" || $0 == "\n" }) {
            return "must not contain NUL, CR or LF"
        }
        if formatted, value.filter({ $0 == "%" }).count % 2 != 0 {
            return "a single % is not allowed: write %% for a literal %, or %VARIABLE% for an Envoy variable"
        }
        return nil
    }

    /// Why `name` cannot be a header name (an HTTP token, RFC 9110: what HTTP/2 and Envoy carry),
    /// or nil when it can.
    public static func nameProblem(_ name: String) -> String? {
        guard !name.isEmpty else { return "header name must not be empty" }
        guard name.utf8.count <= maxLength else { return "header name must be at most \(maxLength) bytes" }
        let token = name.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || "!#$%&'*+-.^_`|~".unicodeScalars.contains(scalar)
        }
        return token ? nil : "header name \"\(name)\" is not a valid HTTP header name"
    }
}

extension HeaderOperations {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        request = try Operations(reading: r["request"], isRequest: true)
        response = try Operations(reading: r["response"], isRequest: false)
    }
}

extension HeaderOperations.Operations {
    init(reading r: FieldReader, isRequest: Bool) throws(MeshModelError) {
        guard try r.object() != nil else { return }
        for key in ["set", "add"] {
            for (name, reader) in try r[key].members() {
                // Istio: the request's authority may be set (it becomes a host rewrite); any other
                // pseudo-header, and `host` on a response, Envoy refuses to modify.
                let authority = isRequest && HeaderOperations.isAuthority(name)
                if !authority { try Self.checkName(name, reader) }
                guard case .string(let value)? = reader.value else { throw reader.error("expected a string") }
                if let problem = HeaderOperations.valueProblem(value) { throw reader.error(problem) }
                if authority, value.isEmpty { throw reader.error("the authority must not be empty") }
                if key == "set" { set[name] = value } else { add[name] = value }
            }
        }
        for reader in try r["remove"].list() {
            guard case .string(let name)? = reader.value else { throw reader.error("expected a string") }
            try Self.checkName(name, reader)
            remove.append(name)
        }
    }

    private static func checkName(_ name: String, _ reader: FieldReader) throws(MeshModelError) {
        if name.hasPrefix(":") { throw reader.error("invalid header \"\(name)\": header cannot have \":\" prefix") }
        if name.lowercased() == "host" { throw reader.error("invalid header \"\(name)\": cannot set Host header") }
        if let problem = HeaderOperations.nameProblem(name) { throw reader.error(problem) }
    }
}

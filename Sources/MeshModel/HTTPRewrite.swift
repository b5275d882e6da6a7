/// Istio's `HTTPRewrite`: what a forwarded request's path and authority become.
///
/// As istiod translates it for sidecars: `uri` replaces the part of the path the route's match
/// matched as a prefix (Envoy's `prefix_rewrite`; with an exact match that is the whole path),
/// `uriRegexRewrite` substitutes with RE2 (`regex_rewrite`), and `authority` replaces the Host
/// (`host_rewrite_literal`).
public struct HTTPRewrite: Sendable, Hashable {
    /// A regex rewrite of the path: every match of `match` is replaced by `rewrite`.
    public struct RegexRewrite: Sendable, Hashable {
        /// The RE2 pattern.
        public var match: String
        /// The substitution (`\1` names a capture group).
        public var rewrite: String

        /// Creates a regex rewrite.
        public init(match: String, rewrite: String) {
            self.match = match
            self.rewrite = rewrite
        }
    }

    /// Replaces the matched prefix of the path.
    public var uri: String?
    /// Rewrites the path with a regex.
    public var uriRegexRewrite: RegexRewrite?
    /// Replaces the authority (Host).
    public var authority: String?

    public init(uri: String? = nil, uriRegexRewrite: RegexRewrite? = nil, authority: String? = nil) {
        self.uri = uri
        self.uriRegexRewrite = uriRegexRewrite
        self.authority = authority
    }
}

extension HTTPRewrite {
    /// Istio's rules: at least one of `uri`, `uriRegexRewrite`, `authority`; not both path
    /// rewrites; a regex rewrite needs both `match` and `rewrite`. Values must be valid header
    /// values (Envoy's rule for `prefix_rewrite` and `host_rewrite_literal`).
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        uri = try r["uri"].string().flatMap { $0.isEmpty ? nil : $0 }
        authority = try r["authority"].string().flatMap { $0.isEmpty ? nil : $0 }
        let regex = r["uriRegexRewrite"]
        if try regex.object() != nil {
            let pattern = try regex["match"].string() ?? ""
            let rewrite = try regex["rewrite"].string() ?? ""
            guard !pattern.isEmpty, !rewrite.isEmpty else {
                throw regex.error("uriRegexRewrite requires both match and rewrite")
            }
            guard try regex["match"].regex() != nil else { throw regex["match"].error("required") }
            if let problem = HeaderOperations.valueProblem(rewrite, formatted: false) { throw regex["rewrite"].error(problem) }
            uriRegexRewrite = RegexRewrite(match: pattern, rewrite: rewrite)
        } else {
            uriRegexRewrite = nil
        }
        if uri != nil, uriRegexRewrite != nil { throw r.error("rewrite may only contain one of uri or uriRegexRewrite") }
        guard uri != nil || uriRegexRewrite != nil || authority != nil else {
            throw r.error("rewrite must specify at least one of uri, uriRegexRewrite, authority")
        }
        if let uri, let problem = HeaderOperations.valueProblem(uri, formatted: false) { throw r["uri"].error(problem) }
        if let authority, let problem = HeaderOperations.valueProblem(authority, formatted: false) { throw r["authority"].error(problem) }
    }
}

/// Istio's `CorsPolicy`: how a route answers cross-origin requests (Envoy's CORS filter).
public struct CorsPolicy: Sendable, Hashable {
    /// What to do with a preflight whose origin is not allowed.
    public enum UnmatchedPreflights: String, Sendable, Hashable {
        /// Forward it to the destination (Istio's default, `UNSPECIFIED` and `FORWARD`).
        case forward = "FORWARD"
        /// Answer it without CORS headers (`IGNORE`).
        case ignore = "IGNORE"
    }

    /// Origins allowed (`allowOrigins`, or the deprecated `allowOrigin` as exact matches).
    public var allowOrigins: [StringMatch]
    /// Methods allowed (`Access-Control-Allow-Methods`).
    public var allowMethods: [String]
    /// Request headers allowed (`Access-Control-Allow-Headers`).
    public var allowHeaders: [String]
    /// Response headers exposed (`Access-Control-Expose-Headers`).
    public var exposeHeaders: [String]
    /// How long a preflight answer may be cached, in whole seconds.
    public var maxAgeSeconds: Int64?
    /// `Access-Control-Allow-Credentials`, when set.
    public var allowCredentials: Bool?
    /// What happens to preflights from origins not allowed.
    public var unmatchedPreflights: UnmatchedPreflights

    /// Creates a policy (the Gateway API's `CORS` filter, translated).
    public init(
        allowOrigins: [StringMatch], allowMethods: [String] = [], allowHeaders: [String] = [], exposeHeaders: [String] = [],
        maxAgeSeconds: Int64? = nil, allowCredentials: Bool? = nil, unmatchedPreflights: UnmatchedPreflights = .forward
    ) {
        self.allowOrigins = allowOrigins
        self.allowMethods = allowMethods
        self.allowHeaders = allowHeaders
        self.exposeHeaders = exposeHeaders
        self.maxAgeSeconds = maxAgeSeconds
        self.allowCredentials = allowCredentials
        self.unmatchedPreflights = unmatchedPreflights
    }

    /// The methods Istio accepts in `allowMethods`.
    public static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]
}

extension CorsPolicy {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        var origins: [StringMatch] = []
        for reader in try r["allowOrigins"].list() {
            let match = try StringMatch(reading: reader)
            switch match {
            case .exact(let text), .prefix(let text), .regex(let text):
                guard !text.isEmpty else { throw reader.error("an allowed origin must not be empty") }
                if let problem = HeaderOperations.valueProblem(text, formatted: false) { throw reader.error(problem) }
            }
            origins.append(match)
        }
        if origins.isEmpty {
            origins = try r["allowOrigin"].strings().map(StringMatch.exact)
        } else if !(try r["allowOrigin"].strings().isEmpty) {
            throw r["allowOrigin"].error("set allowOrigins only (allowOrigin is deprecated)")
        }
        allowOrigins = origins
        allowMethods = try r["allowMethods"].strings()
        for (reader, method) in zip(try r["allowMethods"].list(), allowMethods) where !CorsPolicy.methods.contains(method) {
            throw reader.error("\"\(method)\" is not a supported HTTP method")
        }
        allowHeaders = try Self.headerNames(r["allowHeaders"])
        exposeHeaders = try Self.headerNames(r["exposeHeaders"])
        if let maxAge = try r["maxAge"].durationValue() {
            let (seconds, attoseconds) = maxAge.components
            guard attoseconds == 0 else { throw r["maxAge"].error("max_age duration is accurate only to seconds precision") }
            maxAgeSeconds = seconds
        } else {
            maxAgeSeconds = nil
        }
        allowCredentials = try r["allowCredentials"].boolean()
        let unmatched = try r["unmatchedPreflights"].oneOf(["UNSPECIFIED", "FORWARD", "IGNORE"], what: "unmatchedPreflights")
        unmatchedPreflights = unmatched == "IGNORE" ? .ignore : .forward
    }

    /// Header names for CORS lists: an HTTP token, or `*`.
    private static func headerNames(_ r: FieldReader) throws(MeshModelError) -> [String] {
        let names = try r.strings()
        for (reader, name) in zip(try r.list(), names) where name != "*" {
            if let problem = HeaderOperations.nameProblem(name) { throw reader.error(problem) }
        }
        return names
    }
}

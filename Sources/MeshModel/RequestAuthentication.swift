import MeshCommon

/// Istio `RequestAuthentication` (security.istio.io v1 and v1beta1): the JSON Web Tokens the
/// selected workloads' proxies verify.
///
/// Scope as in Istio, and unlike PeerAuthentication there is no precedence: every policy that
/// applies to a workload (root namespace or its own namespace, without a selector or with one its
/// labels carry) contributes its `jwtRules`. A request carrying an invalid token is refused (401);
/// one without a token passes unless an AuthorizationPolicy asks for a request principal.
public struct RequestAuthentication: Sendable, Hashable {
    /// `selector.matchLabels`; nil without a selector.
    public var selector: [String: String]?
    /// `jwtRules`, in document order.
    public var jwtRules: [JWTRule]

    /// Creates a policy.
    public init(selector: [String: String]? = nil, jwtRules: [JWTRule] = []) {
        self.selector = selector
        self.jwtRules = jwtRules
    }

    /// One `jwtRules` entry: an issuer, where its keys come from and where tokens are found.
    public struct JWTRule: Sendable, Hashable {
        /// `issuer`: the token's `iss` must equal it; empty accepts any issuer (then `jwksUri` is set).
        public var issuer: String = ""
        /// `audiences`: the token's `aud` must hold one of them; empty checks no audience.
        public var audiences: [String] = []
        /// `jwksUri`: where meshd fetches the key set (http or https).
        public var jwksUri: String?
        /// `jwks`: the key set inline (JSON); wins over `jwksUri`, as in istiod.
        public var jwks: String?
        /// `fromHeaders`: header name and value prefix.
        public var fromHeaders: [(name: String, prefix: String)] = []
        /// `fromParams`: query parameter names.
        public var fromParams: [String] = []
        /// `fromCookies`: cookie names.
        public var fromCookies: [String] = []
        /// `outputPayloadToHeader`: the header that gets the verified payload (base64url).
        public var outputPayloadToHeader: String?
        /// `outputClaimToHeaders`: header ← claim, in order.
        public var outputClaimToHeaders: [(header: String, claim: String)] = []
        /// `forwardOriginalToken`: keep the token in the request.
        public var forwardOriginalToken = false
        /// `timeout`: how long meshd waits for `jwksUri` (Istio's default 5 s).
        public var timeout: Duration = .seconds(5)
        /// `spaceDelimitedClaims`: claims split on spaces (besides `scope` and `permission`).
        public var spaceDelimitedClaims: [String] = []

        public init(issuer: String = "", jwksUri: String? = nil, jwks: String? = nil) {
            self.issuer = issuer
            self.jwksUri = jwksUri
            self.jwks = jwks
        }

        public static func == (lhs: JWTRule, rhs: JWTRule) -> Bool {
            lhs.issuer == rhs.issuer && lhs.audiences == rhs.audiences && lhs.jwksUri == rhs.jwksUri && lhs.jwks == rhs.jwks
                && lhs.fromHeaders.map(\.name) == rhs.fromHeaders.map(\.name) && lhs.fromHeaders.map(\.prefix) == rhs.fromHeaders.map(\.prefix)
                && lhs.fromParams == rhs.fromParams && lhs.fromCookies == rhs.fromCookies && lhs.outputPayloadToHeader == rhs.outputPayloadToHeader
                && lhs.outputClaimToHeaders.map(\.header) == rhs.outputClaimToHeaders.map(\.header)
                && lhs.outputClaimToHeaders.map(\.claim) == rhs.outputClaimToHeaders.map(\.claim)
                && lhs.forwardOriginalToken == rhs.forwardOriginalToken && lhs.timeout == rhs.timeout
                && lhs.spaceDelimitedClaims == rhs.spaceDelimitedClaims
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(issuer)
            hasher.combine(jwksUri)
            hasher.combine(jwks)
            hasher.combine(audiences)
        }

        /// Where meshd fetches this rule's keys: `jwksUri`, or without it the issuer's OpenID
        /// discovery document (`ISSUER/.well-known/openid-configuration`, whose `jwks_uri` is
        /// fetched next); nil with inline `jwks`.
        public var fetchedURI: String? {
            guard jwks == nil else { return nil }
            return jwksUri ?? Self.discoveryURI(issuer: issuer)
        }

        /// The OpenID discovery document of `issuer`, as istiod builds its address.
        public static func discoveryURI(issuer: String) -> String {
            var base = Substring(issuer)
            while base.hasSuffix("/") { base = base.dropLast() }
            return base + discoverySuffix
        }

        /// The path OpenID Connect Discovery puts the provider's metadata at.
        public static let discoverySuffix = "/.well-known/openid-configuration"
    }

    /// The `jwksUri`s meshd must fetch for this policy.
    public var fetchedURIs: [String] { jwtRules.compactMap(\.fetchedURI) }
}

extension RequestAuthentication {
    /// Reads and validates a spec with Istio's `ValidateRequestAuthentication` rules, and a few of
    /// Envoy's (header names) so Envoy never NACKs what was accepted.
    init(reading spec: FieldReader) throws(MeshModelError) {
        selector = try WorkloadSelectorReading.matchLabels(spec["selector"])
        if !spec["selector"].isAbsent, !spec["targetRef"].isAbsent || !spec["targetRefs"].isAbsent {
            throw spec["selector"].error("selector and targetRef(s) are mutually exclusive")
        }
        jwtRules = []
        for reader in try spec["jwtRules"].list() {
            guard try reader.object() != nil else { throw reader.error("a JWT rule must not be null") }
            jwtRules.append(try JWTRule(reading: reader))
        }
    }
}

extension RequestAuthentication.JWTRule {
    init(reading rule: FieldReader) throws(MeshModelError) {
        issuer = try rule["issuer"].string() ?? ""
        audiences = try Self.nonEmpty(rule["audiences"])
        jwksUri = try rule["jwksUri"].string()
        if let uri = jwksUri {
            guard JWKSURI(uri) != nil else {
                throw rule["jwksUri"].error("\"\(uri)\" must be an http or https URL with a host (and a numeric port, if any)")
            }
        }
        if issuer.isEmpty, jwksUri == nil { throw rule.error("issuer or jwksUri must be set") }
        if jwksUri == nil, rule["jwks"].isAbsent, JWKSURI(issuer) == nil {
            throw rule["issuer"].error(
                "without jwks or jwksUri the keys are found by OpenID discovery at the issuer, which must then be an http(s) URL; got \"\(issuer)\"")
        }
        if let text = try rule["jwks"].string() {
            if let problem = JWKSDocument.problem(in: text) { throw rule["jwks"].error(problem) }
            jwks = text
        }
        for element in try rule["fromHeaders"].list() {
            guard try element.object() != nil else { throw element.error("a header location must not be null") }
            let name = try element["name"].requiredString()
            guard HeaderNameSyntax.isValid(name) else { throw element["name"].error("\"\(name)\" is not an HTTP header name") }
            fromHeaders.append((name, try element["prefix"].string() ?? ""))
        }
        fromParams = try Self.nonEmpty(rule["fromParams"])
        fromCookies = try Self.nonEmpty(rule["fromCookies"])
        if let header = try rule["outputPayloadToHeader"].string() {
            guard HeaderNameSyntax.isValid(header) else { throw rule["outputPayloadToHeader"].error("\"\(header)\" is not an HTTP header name") }
            outputPayloadToHeader = header
        }
        var headers: Set<String> = []
        for element in try rule["outputClaimToHeaders"].list() {
            guard try element.object() != nil else { throw element.error("a claim-to-header entry must not be null") }
            let header = try element["header"].requiredString()
            let claim = try element["claim"].requiredString()
            guard !header.isEmpty,
                header.unicodeScalars.allSatisfy({
                    ("0"..."9").contains($0) || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || $0 == "-" || $0 == "_"
                })
            else {
                throw element["header"].error("\"\(header)\" must match ^[-_A-Za-z0-9]+$")
            }
            guard headers.insert(header.lowercased()).inserted else {
                throw element["header"].error("header \"\(header)\" is already the output of another claim")
            }
            outputClaimToHeaders.append((header, claim))
        }
        forwardOriginalToken = try rule["forwardOriginalToken"].boolean() ?? false
        if let timeout = try rule["timeout"].durationValue() {
            guard timeout >= .milliseconds(1) else { throw rule["timeout"].error("timeout must be at least 1ms") }
            let (seconds, attoseconds) = timeout.components
            guard attoseconds % 1_000_000_000_000_000 == 0, seconds <= 3600 else {
                throw rule["timeout"].error("timeout must be whole milliseconds, at most 1h")
            }
            self.timeout = timeout
        }
        spaceDelimitedClaims = try Self.nonEmpty(rule["spaceDelimitedClaims"])
    }

    private static func nonEmpty(_ reader: FieldReader) throws(MeshModelError) -> [String] {
        var result: [String] = []
        for element in try reader.list() {
            guard let value = try element.string(), !value.isEmpty else { throw element.error("expected a non-empty string") }
            result.append(value)
        }
        return result
    }
}

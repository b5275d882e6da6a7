import Crypto
import Foundation
import Hummingbird
import MeshCommon
import MeshModel

/// Who may call what on the admin port: a pure decision over one request's facts, so every rule
/// is testable without a socket. `AdminAuthMiddleware` feeds it real requests.
///
/// The rules, in the order they are checked (docs/security.md explains the threats):
/// 1. `openPaths` (`/healthz`, `/ready`, `/metrics`) are open to everyone: probes and scrapers
///    carry no token and often name the pod IP or a Service name in `Host`.
/// 2. A `Host` header that is not one of meshd's names answers 403: DNS rebinding makes a web
///    page's own host name resolve to 127.0.0.1, and that name is what its requests carry.
///    Accepted: IP literals (a rebinding attack needs a name), `localhost`, and `allowedHostNames`
///    (`*` accepts any).
/// 3. A request made by a browser on behalf of another site answers 403: an `Origin` that is not
///    meshd's own (`http://` + the request's `Host`), or `Sec-Fetch-Site: cross-site`/`same-site`.
///    Past this rule the dashboard's static files (`GET /ui`, `/ui/...`; `isPublicAsset`) are
///    served to anyone: they hold no data and no secret, and a browser must load the page
///    before the operator can type the token into it.
/// 4. A request carrying `Origin` or `Sec-Fetch-Site` at all came from a browser: it is never
///    trusted by its address and needs the admin token — the dashboard's own API calls
///    (`Sec-Fetch-Site: same-origin`) included, reads and writes alike.
/// 5. Other callers from `trustedAddresses` need no token — except to mint a workload token
///    (`POST /api/v1/tokens`), which needs it unless `allowTrustedTokenMinting`, and for the
///    gateway credentials API (`/api/v1/secrets...`), which always needs it: a local process
///    that may change routes must not also be able to replace the edge's certificate and key.
///    Everyone else needs `Authorization: Bearer <admin token>` (401 otherwise).
/// 6. `POST`/`PUT` bodies under `/api/` must be declared YAML or JSON (`bodyMediaTypes`), 415
///    otherwise, including a missing `Content-Type`: a browser's "simple" request can send
///    `text/plain` or form types without a CORS preflight, and no meshd client sends anything else.
///
/// A value type; thread-safe to share.
public struct AdminAccessPolicy: Sendable {
    /// The bearer token that authenticates callers; nil refuses every caller that needs it.
    public var adminToken: String?
    /// Caller IP addresses trusted without a token (loopback by default).
    public var trustedAddresses: Set<String>
    /// Host names (lowercase, no port) accepted in the `Host` header besides IP literals and
    /// `localhost`; `*` accepts any name.
    public var allowedHostNames: Set<String>
    /// Whether callers trusted by address may mint workload tokens without the admin token
    /// (meshd's `--allow-loopback-token-minting`).
    public var allowTrustedTokenMinting: Bool

    /// Paths open to every caller, whatever its headers.
    public static let openPaths: Set<String> = ["/healthz", "/ready", "/metrics"]

    /// The media types accepted for request bodies (parameters such as `charset` are ignored).
    public static let bodyMediaTypes: Set<String> = ["application/yaml", "application/x-yaml", "text/yaml", "application/json"]

    /// Creates a policy.
    public init(
        adminToken: String?, trustedAddresses: Set<String>, allowedHostNames: Set<String> = [],
        allowTrustedTokenMinting: Bool = false
    ) {
        self.adminToken = adminToken
        self.trustedAddresses = trustedAddresses
        self.allowedHostNames = Set(allowedHostNames.map(Self.normalizedHost))
        self.allowTrustedTokenMinting = allowTrustedTokenMinting
    }

    /// Whether `path` is the gateway credentials API, which always needs the admin token.
    public static func isSecretsPath(_ path: String) -> Bool {
        path == "/api/v1/secrets" || path.hasPrefix("/api/v1/secrets/")
    }

    /// The facts of one request that the policy looks at.
    public struct Request: Sendable {
        /// The HTTP method.
        public var method: HTTPRequest.Method
        /// The path without the query.
        public var path: String
        /// The `Host` header (HTTP/1) or `:authority` (HTTP/2), if any.
        public var host: String?
        /// The `Origin` header, if any.
        public var origin: String?
        /// The `Sec-Fetch-Site` header, if any.
        public var fetchSite: String?
        /// The `Authorization` header, if any.
        public var authorization: String?
        /// The `Content-Type` header, if any.
        public var contentType: String?
        /// The caller's IP address; nil when the connection has none (an in-process test client,
        /// a Unix socket), which is local by definition.
        public var peerIP: String?

        /// Creates the facts of a request.
        public init(
            method: HTTPRequest.Method, path: String, host: String? = nil, origin: String? = nil,
            fetchSite: String? = nil, authorization: String? = nil, contentType: String? = nil,
            peerIP: String? = nil
        ) {
            self.method = method
            self.path = path
            self.host = host
            self.origin = origin
            self.fetchSite = fetchSite
            self.authorization = authorization
            self.contentType = contentType
            self.peerIP = peerIP
        }
    }

    /// Returns who the caller is when `request` may proceed — `admin` when it presented the
    /// admin token, else `loopback IP` or `trusted IP` (`local` without an address) — the actor
    /// config history records; throws the 401, 403 or 415 to answer otherwise.
    @discardableResult
    public func check(_ request: Request) throws(AdminError) -> String {
        if Self.openPaths.contains(request.path) { return actor(request) }
        if let host = request.host, !isAllowedHost(host) {
            throw AdminError(
                code: "forbidden", status: .forbidden,
                message: "Host \"\(host)\" is not a name of this meshd; add it to --admin-allowed-hosts to use it")
        }
        if let origin = request.origin, !Self.isSameOrigin(origin, host: request.host) {
            throw AdminError(
                code: "forbidden", status: .forbidden,
                message: "cross-origin requests are refused (Origin \"\(origin)\")")
        }
        if let site = request.fetchSite?.lowercased(), site == "cross-site" || site == "same-site" {
            throw AdminError(
                code: "forbidden", status: .forbidden,
                message: "cross-site requests are refused (Sec-Fetch-Site: \(site))")
        }
        if Self.isPublicAsset(request) { return actor(request) }
        let fromBrowser = request.origin != nil || request.fetchSite != nil
        let trustedByAddress = isTrusted(request.peerIP)
        let mintsToken = request.method == .post && request.path == "/api/v1/tokens"
        if fromBrowser {
            try authenticate(request, who: "requests from a browser")
        } else if !trustedByAddress {
            try authenticate(request, who: "callers from \(request.peerIP ?? "an unknown address")")
        } else if mintsToken && !allowTrustedTokenMinting {
            try authenticate(request, who: "minting a workload token (even from loopback; see --allow-loopback-token-minting)")
        } else if Self.isSecretsPath(request.path) {
            try authenticate(request, who: "the secrets API (even from loopback)")
        }
        if request.method == .post || request.method == .put || request.method == .patch, request.path.hasPrefix("/api/") {
            let mediaType = request.contentType.map(Self.mediaType)
            guard let mediaType, Self.bodyMediaTypes.contains(mediaType) else {
                throw AdminError(
                    code: "unsupportedMediaType", status: .unsupportedMediaType,
                    message: "Content-Type must be one of \(Self.bodyMediaTypes.sorted().joined(separator: ", "))"
                        + " (got \(request.contentType.map { "\"\($0)\"" } ?? "none"))")
            }
        }
        return actor(request)
    }

    /// The caller as history names it (see `check`).
    func actor(_ request: Request) -> String {
        if presentsAdminToken(request) { return "admin" }
        guard let ip = request.peerIP else { return "local" }
        return (ip == "::1" || ip.hasPrefix("127.") || ip == "::ffff:127.0.0.1" ? "loopback " : "trusted ") + ip
    }

    private func presentsAdminToken(_ request: Request) -> Bool {
        guard let adminToken, let header = request.authorization, header.hasPrefix("Bearer ") else { return false }
        return Self.constantTimeEqual(String(header.dropFirst("Bearer ".count)), adminToken)
    }

    /// Whether `request` reads one of the dashboard's static files (served past rule 3).
    static func isPublicAsset(_ request: Request) -> Bool {
        (request.method == .get || request.method == .head) && (request.path == "/ui" || request.path.hasPrefix("/ui/"))
    }

    private func authenticate(_ request: Request, who: String) throws(AdminError) {
        guard presentsAdminToken(request) else {
            throw AdminError(
                code: "unauthenticated", status: .unauthorized,
                message: "\(who) must present the admin token (Authorization: Bearer ...; meshd writes it to DATA_DIR/admin-token)")
        }
    }

    private func isTrusted(_ peerIP: String?) -> Bool {
        guard let peerIP else { return true }
        return trustedAddresses.contains(peerIP)
    }

    /// Whether a `Host` value names this meshd: an IP literal, `localhost`, or an allowed name.
    func isAllowedHost(_ authority: String) -> Bool {
        let host = Self.hostPart(of: authority)
        if host.isEmpty { return false }
        if host == "localhost" || Self.isIPLiteral(host) { return true }
        return allowedHostNames.contains("*") || allowedHostNames.contains(host)
    }

    /// `host[:port]` or `[v6][:port]` → the host, lowercase, brackets and a trailing dot removed.
    static func hostPart(of authority: String) -> String {
        var text = Substring(authority.trimmingCharacters(in: .whitespaces))
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return "" }
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || (rest.first == ":" && isPort(rest.dropFirst())) else { return "" }
            return normalizedHost(String(text[text.index(after: text.startIndex)..<close]))
        }
        if let colon = text.lastIndex(of: ":") {
            guard isPort(text[text.index(after: colon)...]) else { return "" }
            text = text[..<colon]
        }
        return normalizedHost(String(text))
    }

    private static func isPort(_ text: Substring) -> Bool {
        text.utf8.allSatisfy { (0x30...0x39).contains($0) }
    }

    static func normalizedHost(_ host: String) -> String {
        var host = host.lowercased()
        if host.hasSuffix("."), host.count > 1 { host.removeLast() }
        return host
    }

    /// Strict IPv4 dotted-quad or IPv6 text, MeshModel's one reading of addresses (so `127.1` is
    /// a name).
    static func isIPLiteral(_ host: String) -> Bool {
        IPAddressSyntax.isIPAddress(host)
    }

    /// meshd serves no web pages, so the only origin of its own is the admin API itself:
    /// `http://` followed by the request's `Host`.
    static func isSameOrigin(_ origin: String, host: String?) -> Bool {
        guard let authority = host?.lowercased() else { return false }
        let origin = origin.lowercased()
        if origin == "http://" + authority { return true }
        // Browsers omit the default port from Origin; HTTP clients may include it in Host.
        return authority.hasSuffix(":80") && origin == "http://" + authority.dropLast(3)
    }

    /// `application/yaml; charset=utf-8` → `application/yaml`.
    static func mediaType(_ contentType: String) -> String {
        contentType.split(separator: ";", maxSplits: 1).first.map(String.init)?
            .trimmingCharacters(in: .whitespaces).lowercased() ?? ""
    }

    /// Compares digests so the comparison time does not depend on where the strings differ.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = SHA256.hash(data: Data(a.utf8))
        let y = SHA256.hash(data: Data(b.utf8))
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// Istio's `HTTPRedirect`: answer with a redirect instead of forwarding.
public struct HTTPRedirect: Sendable, Hashable {
    /// Replaces the path (`uri`).
    public var uri: String?
    /// Replaces the authority (host).
    public var authority: String?
    /// Replaces the port.
    public var port: UInt32?
    /// Derives the port instead (`derivePort`), exclusive with `port`.
    public var derivePort: DerivePort?
    /// Replaces the scheme (`http`, `https`).
    public var scheme: String?
    /// The redirect status: 301 (Istio's default), 302, 303, 307 or 308.
    public var redirectCode: UInt32
    /// Rewrites the path by a regular expression instead of replacing it (`uri`): how a Gateway
    /// API redirect's `ReplacePrefixMatch` is written; Istio's YAML cannot set it.
    public var pathRegexRewrite: HTTPRewrite.RegexRewrite?

    /// Creates a redirect (the Gateway API's `RequestRedirect` filter, translated).
    public init(
        uri: String? = nil, authority: String? = nil, port: UInt32? = nil, derivePort: DerivePort? = nil, scheme: String? = nil,
        redirectCode: UInt32 = 301, pathRegexRewrite: HTTPRewrite.RegexRewrite? = nil
    ) {
        self.uri = uri
        self.authority = authority
        self.port = port
        self.derivePort = derivePort
        self.scheme = scheme
        self.redirectCode = redirectCode
        self.pathRegexRewrite = pathRegexRewrite
    }

    /// Istio's `derivePort`.
    public enum DerivePort: String, Sendable, Hashable {
        /// The scheme's default port (80 or 443): no port in the location.
        case fromProtocolDefault = "FROM_PROTOCOL_DEFAULT"
        /// The port the request came in on (routes are built per port, so that port).
        case fromRequestPort = "FROM_REQUEST_PORT"
    }

    /// The redirect codes Envoy can send.
    public static let codes: [UInt32] = [301, 302, 303, 307, 308]
}

/// Istio's `HTTPDirectResponse`: answer with a fixed status and body instead of forwarding.
public struct HTTPDirectResponse: Sendable, Hashable {
    /// The HTTP status (200–599).
    public var status: UInt32
    /// The body, if any (from `body.string`, or `body.bytes` decoded from base64).
    public var body: String?

    /// The largest body meshd accepts (the body is sent to every proxy in the route).
    public static let maxBodyBytes = 64 * 1024

    /// Creates a direct response (a Gateway API rule with no valid backend answers 500).
    public init(status: UInt32, body: String? = nil) {
        self.status = status
        self.body = body
    }
}

extension HTTPRedirect {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        uri = try r["uri"].string().flatMap { $0.isEmpty ? nil : $0 }
        if let uri, !uri.hasPrefix("/") { throw r["uri"].error("must start with /") }
        authority = try r["authority"].string().flatMap { $0.isEmpty ? nil : $0 }
        port = try r["port"].port()
        derivePort = try r["derivePort"].oneOf(["FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"], what: "derivePort")
            .flatMap(DerivePort.init(rawValue:))
        if port != nil, derivePort != nil { throw r["derivePort"].error("set only one of port, derivePort") }
        scheme = try r["scheme"].string().flatMap { $0.isEmpty ? nil : $0 }
        if let scheme, scheme != "http", scheme != "https" { throw r["scheme"].error("invalid redirect scheme, must be \"http\" or \"https\"") }
        let code = try r["redirectCode"].uint32() ?? 0
        guard code == 0 || HTTPRedirect.codes.contains(code) else {
            throw r["redirectCode"].error("must be one of 301, 302, 303, 307, 308")
        }
        redirectCode = code == 0 ? 301 : code
    }
}

extension HTTPDirectResponse {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        guard let code = try r["status"].integer(in: 200...599, message: "must be an HTTP status between 200 and 599") else {
            throw r["status"].error("required")
        }
        status = UInt32(code)
        let body = r["body"]
        if try body.object() != nil {
            if !body["bytes"].isAbsent { throw body["bytes"].error("body.bytes is not supported by meshd yet; use body.string") }
            self.body = try body["string"].string()
            if let text = self.body, text.utf8.count > HTTPDirectResponse.maxBodyBytes {
                throw body["string"].error("must be at most \(HTTPDirectResponse.maxBodyBytes) bytes")
            }
        } else {
            self.body = nil
        }
    }
}

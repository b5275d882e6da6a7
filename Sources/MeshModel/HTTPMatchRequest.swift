/// Conditions a request must meet for an HTTP route to apply; all set conditions must hold.
public struct HTTPMatchRequest: Sendable, Hashable {
    /// A name for the match, used in logs and stats.
    public var name: String?
    /// How the URI path must match.
    public var uri: StringMatch?
    /// Whether `uri` ignores case.
    public var ignoreUriCase: Bool
    /// Header name (lowercase) → how its value must match (or only that it is present).
    public var headers: [String: HeaderMatch]
    /// Header name (lowercase) → a condition that must NOT hold.
    public var withoutHeaders: [String: HeaderMatch]
    /// Query parameter → how its value must match.
    public var queryParams: [String: HeaderMatch]
    /// How the HTTP method must match.
    public var method: StringMatch?
    /// How the authority (`Host`/`:authority`) must match.
    public var authority: StringMatch?
    /// How the URI scheme must match.
    public var scheme: StringMatch?
    /// The port the request arrived on.
    public var port: UInt32?
    /// Labels the calling workload must carry.
    public var sourceLabels: [String: String]
    /// The namespace the calling workload must run in.
    public var sourceNamespace: String?
    /// Gateways this match is limited to (overrides the VirtualService's); `mesh` means sidecars
    /// and proxyless clients.
    public var gateways: [String]

    /// Creates a match; with nothing set it matches every request.
    public init(
        name: String? = nil, uri: StringMatch? = nil, ignoreUriCase: Bool = false, headers: [String: HeaderMatch] = [:],
        withoutHeaders: [String: HeaderMatch] = [:], queryParams: [String: HeaderMatch] = [:],
        method: StringMatch? = nil, authority: StringMatch? = nil, scheme: StringMatch? = nil, port: UInt32? = nil,
        sourceLabels: [String: String] = [:], sourceNamespace: String? = nil, gateways: [String] = []
    ) {
        self.name = name
        self.uri = uri
        self.ignoreUriCase = ignoreUriCase
        self.headers = headers
        self.withoutHeaders = withoutHeaders
        self.queryParams = queryParams
        self.method = method
        self.authority = authority
        self.scheme = scheme
        self.port = port
        self.sourceLabels = sourceLabels
        self.sourceNamespace = sourceNamespace
        self.gateways = gateways
    }
}

/// A header or query parameter condition: its presence, or how its value matches. Istio writes
/// presence as an empty match (`x-user: {}`).
public enum HeaderMatch: Sendable, Hashable {
    /// The header is present, whatever its value.
    case present
    /// The value matches.
    case value(StringMatch)
}

extension HTTPMatchRequest {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        name = try r["name"].string().flatMap { $0.isEmpty ? nil : $0 }
        uri = try r["uri"].isAbsent ? nil : StringMatch(reading: r["uri"])
        ignoreUriCase = try r["ignoreUriCase"].boolean() ?? false
        headers = try Self.headerMatches(r["headers"])
        withoutHeaders = try Self.headerMatches(r["withoutHeaders"])
        var queryParams: [String: HeaderMatch] = [:]
        for (parameter, reader) in try r["queryParams"].members() {
            guard !parameter.isEmpty else { throw reader.error("query parameter name must not be empty") }
            queryParams[parameter] = try HeaderMatch(reading: reader)
        }
        self.queryParams = queryParams
        method = try r["method"].isAbsent ? nil : StringMatch(reading: r["method"])
        authority = try r["authority"].isAbsent ? nil : StringMatch(reading: r["authority"])
        scheme = try r["scheme"].isAbsent ? nil : StringMatch(reading: r["scheme"])
        port = try r["port"].port()
        sourceLabels = try r["sourceLabels"].stringMap()
        for (key, _) in sourceLabels where key.isEmpty {
            throw r["sourceLabels"].error("a label key must not be empty")
        }
        sourceNamespace = try r["sourceNamespace"].string().flatMap { $0.isEmpty ? nil : $0 }
        if let namespace = sourceNamespace, !NameRules.isDNS1123Label(namespace) {
            throw r["sourceNamespace"].error(NameRules.labelRule)
        }
        gateways = try r["gateways"].strings()
    }

    private static func headerMatches(_ r: FieldReader) throws(MeshModelError) -> [String: HeaderMatch] {
        var matches: [String: HeaderMatch] = [:]
        for (header, reader) in try r.members() {
            guard !header.isEmpty else { throw reader.error("header name must not be empty") }
            // HTTP/2 (and so Envoy) carries header names in lowercase; an uppercase name would never match.
            guard header == header.lowercased() else { throw reader.error("header name must be lowercase") }
            matches[header] = try HeaderMatch(reading: reader)
        }
        return matches
    }
}

extension HeaderMatch {
    /// `{}` is presence; otherwise exactly one of exact, prefix, regex.
    init(reading r: FieldReader) throws(MeshModelError) {
        guard let object = try r.object() else { throw r.error("expected an object") }
        self = object.isEmpty ? .present : .value(try StringMatch(reading: r))
    }
}

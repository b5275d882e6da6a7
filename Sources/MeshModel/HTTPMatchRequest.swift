/// Conditions a request must meet for an HTTP route to apply; all set conditions must hold.
public struct HTTPMatchRequest: Sendable, Hashable {
    /// A name for the match, used in logs and stats.
    public var name: String?
    /// How the URI path must match.
    public var uri: StringMatch?
    /// Header name (lowercase) → how its value must match.
    public var headers: [String: StringMatch]
    /// The port the request arrived on.
    public var port: UInt32?

    /// Creates a match; with nothing set it matches every request.
    public init(name: String? = nil, uri: StringMatch? = nil, headers: [String: StringMatch] = [:], port: UInt32? = nil) {
        self.name = name
        self.uri = uri
        self.headers = headers
        self.port = port
    }
}

extension HTTPMatchRequest {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        name = try r["name"].string().flatMap { $0.isEmpty ? nil : $0 }
        uri = try r["uri"].isAbsent ? nil : StringMatch(reading: r["uri"])
        var headers: [String: StringMatch] = [:]
        for (header, reader) in try r["headers"].members() {
            guard !header.isEmpty else { throw reader.error("header name must not be empty") }
            // HTTP/2 (and so Envoy) carries header names in lowercase; an uppercase name would never match.
            guard header == header.lowercased() else { throw reader.error("header name must be lowercase") }
            headers[header] = try StringMatch(reading: reader)
        }
        self.headers = headers
        port = try r["port"].port()
    }
}

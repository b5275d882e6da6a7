import MeshCommon

extension MeshConfig {
    /// One `extensionProviders` entry: a name and exactly one provider. meshd acts on the
    /// external authorizers (`envoyExtAuthzHttp`, `envoyExtAuthzGrpc`), which CUSTOM
    /// AuthorizationPolicies name, and on the telemetry kinds Telemetry resources name
    /// (`envoyFileAccessLog`, `envoyOtelAls`, `zipkin`, `opentelemetry`); the other kinds are
    /// accepted and listed as not honoured.
    public struct ExtensionProvider: Sendable, Hashable {
        /// `name`: what a CUSTOM policy's `provider.name` says. A DNS-1123 label, as istiod's
        /// authz builder requires (it names the filters' metadata prefix).
        public var name: String
        /// The provider.
        public var kind: Kind

        /// The provider kinds.
        public enum Kind: Sendable, Hashable {
            /// `envoyExtAuthzHttp`: Envoy's ext_authz filter calling an HTTP authorizer.
            case envoyExtAuthzHttp(ExternalAuthorizer)
            /// `envoyExtAuthzGrpc`: Envoy's ext_authz filter calling the gRPC Authorization service.
            case envoyExtAuthzGrpc(ExternalAuthorizer)
            /// `envoyFileAccessLog`: access logs written to a file.
            case envoyFileAccessLog(MeshConfig.FileAccessLogProvider)
            /// `envoyOtelAls`: access logs sent over OTLP/gRPC.
            case envoyOtelAls(MeshConfig.OpenTelemetryLogProvider)
            /// `zipkin`: spans sent to a Zipkin collector.
            case zipkin(MeshConfig.TracingProvider)
            /// `opentelemetry`: spans sent over OTLP (gRPC or HTTP).
            case opentelemetry(MeshConfig.TracingProvider)
            /// Any other provider kind of Istio's (`prometheus`, `datadog`, …), by its field name.
            case other(String)
        }

        /// The external authorizer, for the two ext_authz kinds.
        public var authorizer: ExternalAuthorizer? {
            switch kind {
            case .envoyExtAuthzHttp(let authorizer), .envoyExtAuthzGrpc(let authorizer): authorizer
            default: nil
            }
        }

        /// Whether the authorizer is called over gRPC.
        public var isGRPC: Bool {
            if case .envoyExtAuthzGrpc = kind { return true }
            return false
        }
    }

    /// The settings of `envoyExtAuthzHttp` and `envoyExtAuthzGrpc` (the gRPC kind has no
    /// header lists and no path prefix: those stay empty).
    public struct ExternalAuthorizer: Sendable, Hashable {
        /// `service`: `[NAMESPACE/]HOST` of a service in the registry.
        public var service: String
        /// `port`: 1–65535.
        public var port: UInt32
        /// `timeout`; Istio's default is 600 s.
        public var timeout: Duration = .seconds(600)
        /// `failOpen`: let a request through when the authorizer cannot be reached.
        public var failOpen = false
        /// `statusOnError`: the status sent when the authorizer fails (nil: Envoy's 403).
        public var statusOnError: UInt32?
        /// `pathPrefix` (HTTP): prepended to the request's path in the check request.
        public var pathPrefix = ""
        /// `includeRequestHeadersInCheck` (or the deprecated `includeHeadersInCheck`) (HTTP).
        public var includeRequestHeadersInCheck: [String] = []
        /// `includeAdditionalHeadersInCheck` (HTTP): headers added to the check request.
        public var includeAdditionalHeadersInCheck: [String: String] = [:]
        /// `headersToUpstreamOnAllow` (HTTP).
        public var headersToUpstreamOnAllow: [String] = []
        /// `headersToDownstreamOnDeny` (HTTP).
        public var headersToDownstreamOnDeny: [String] = []
        /// `headersToDownstreamOnAllow` (HTTP).
        public var headersToDownstreamOnAllow: [String] = []
        /// `includeRequestBodyInCheck`: buffer the body and send it.
        public var includeRequestBodyInCheck: RequestBody?
        /// `clearRouteCache`: recompute the route after the authorizer's headers (istiod drops it;
        /// meshd sets Envoy's field).
        public var clearRouteCache = false

        /// `includeRequestBodyInCheck`.
        public struct RequestBody: Sendable, Hashable {
            public var maxRequestBytes: UInt32 = 0
            public var allowPartialMessage = false
            public var packAsBytes = false
        }

        /// The service's namespace when `service` is `NAMESPACE/HOST`, else nil.
        public var serviceNamespace: String? {
            let parts = service.split(separator: "/", maxSplits: 1)
            return parts.count == 2 ? String(parts[0]) : nil
        }

        /// The service's host name (without a namespace part).
        public var serviceHost: String {
            String(service.split(separator: "/", maxSplits: 1).last ?? Substring(service))
        }
    }

    /// The HTTP status codes Envoy's `envoy.type.v3.StatusCode` defines (what `statusOnError` may name).
    static let envoyStatusCodes: Set<UInt32> = [
        100, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308,
        400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 423,
        424, 426, 428, 429, 431, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
    ]
}

extension MeshConfig.ExtensionProvider {
    /// The provider kinds of Istio's `ExtensionProvider` oneof.
    static let kinds = [
        "envoyExtAuthzHttp", "envoyExtAuthzGrpc", "zipkin", "lightstep", "datadog", "stackdriver", "opencensus", "skywalking",
        "prometheus", "envoyFileAccessLog", "envoyHttpAls", "envoyTcpAls", "envoyOtelAls", "opentelemetry", "sds",
    ]

    init(reading reader: FieldReader) throws(MeshModelError) {
        guard try reader.object() != nil else { throw reader.error("an extension provider must not be null") }
        name = try reader["name"].requiredString()
        guard NameRules.isDNS1123Label(name) else {
            throw reader["name"].error("\"\(name)\" \(NameRules.labelRule); CUSTOM policies name their provider's filters with it")
        }
        let set = Self.kinds.filter { !reader[$0].isAbsent }
        guard set.count == 1, let field = set.first else {
            throw reader.error(
                set.isEmpty
                    ? "an extension provider must set one provider (\(Self.kinds.joined(separator: ", ")))"
                    : "an extension provider sets one provider, found \(set.joined(separator: " and "))")
        }
        switch field {
        case "envoyExtAuthzHttp": kind = .envoyExtAuthzHttp(try MeshConfig.ExternalAuthorizer(reading: reader[field], http: true))
        case "envoyExtAuthzGrpc": kind = .envoyExtAuthzGrpc(try MeshConfig.ExternalAuthorizer(reading: reader[field], http: false))
        default: kind = try MeshConfig.telemetryProvider(field, reader[field]) ?? .other(field)
        }
    }
}

extension MeshConfig.ExternalAuthorizer {
    init(reading reader: FieldReader, http: Bool) throws(MeshModelError) {
        (service, port) = try MeshConfig.serviceAndPort(reader)
        if let timeout = try reader["timeout"].durationValue() {
            guard timeout >= .zero, timeout < .seconds(Int64(UInt32.max)) else {
                throw reader["timeout"].error("timeout must be between 0 and 2^32 seconds")
            }
            self.timeout = timeout
        }
        failOpen = try reader["failOpen"].boolean() ?? false
        clearRouteCache = try reader["clearRouteCache"].boolean() ?? false
        if let text = try reader["statusOnError"].string() {
            guard let code = UInt32(text), MeshConfig.envoyStatusCodes.contains(code) else {
                throw reader["statusOnError"].error("\"\(text)\" is not an HTTP status code Envoy defines")
            }
            statusOnError = code
        }
        let body = reader["includeRequestBodyInCheck"]
        if try body.object() != nil {
            var settings = RequestBody()
            settings.maxRequestBytes = try body["maxRequestBytes"].uint32() ?? 0
            settings.allowPartialMessage = try body["allowPartialMessage"].boolean() ?? false
            settings.packAsBytes = try body["packAsBytes"].boolean() ?? false
            includeRequestBodyInCheck = settings
        }
        guard http else { return }
        pathPrefix = try reader["pathPrefix"].string() ?? ""
        if !pathPrefix.isEmpty, !pathPrefix.hasPrefix("/") { throw reader["pathPrefix"].error("pathPrefix must start with /") }
        includeRequestHeadersInCheck = try Self.headers(reader["includeRequestHeadersInCheck"])
        if includeRequestHeadersInCheck.isEmpty { includeRequestHeadersInCheck = try Self.headers(reader["includeHeadersInCheck"]) }
        includeAdditionalHeadersInCheck = try reader["includeAdditionalHeadersInCheck"].stringMap()
        headersToUpstreamOnAllow = try Self.headers(reader["headersToUpstreamOnAllow"])
        headersToDownstreamOnDeny = try Self.headers(reader["headersToDownstreamOnDeny"])
        headersToDownstreamOnAllow = try Self.headers(reader["headersToDownstreamOnAllow"])
    }

    /// A header pattern list (`x-a`, `x-*`, `*-b`); a lone `*` is refused, as istiod refuses it.
    private static func headers(_ reader: FieldReader) throws(MeshModelError) -> [String] {
        var result: [String] = []
        for element in try reader.list() {
            guard let value = try element.string(), !value.isEmpty else { throw element.error("expected a non-empty header name or pattern") }
            if value == "*" { throw element.error("a lone \"*\" is not allowed; use a prefix or suffix pattern such as \"x-*\"") }
            result.append(value)
        }
        return result
    }
}

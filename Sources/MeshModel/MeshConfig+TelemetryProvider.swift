import MeshCommon

extension MeshConfig {
    /// `envoyFileAccessLog`: Envoy writes access logs to a file (istiod's `envoy` provider is
    /// `/dev/stdout`).
    public struct FileAccessLogProvider: Sendable, Hashable {
        /// `path`; `/dev/stdout` when empty, as istiod.
        public var path = "/dev/stdout"
        /// `logFormat`; nil: Istio's default text format.
        public var format: LogFormat?
        /// `omitEmptyValues`.
        public var omitEmptyValues = false

        /// Creates a provider.
        public init(path: String = "/dev/stdout", format: LogFormat? = nil, omitEmptyValues: Bool = false) {
            self.path = path
            self.format = format
            self.omitEmptyValues = omitEmptyValues
        }
    }

    /// A file log's `logFormat`: a text line, or a JSON object whose values are format strings.
    public enum LogFormat: Sendable, Hashable {
        /// `text`: one line (a newline is added when missing, as istiod does).
        case text(String)
        /// `labels`: a JSON object; empty means Istio's default JSON fields.
        case labels([String: JSONValue])
    }

    /// `envoyOtelAls`: access logs as OpenTelemetry log records over OTLP/gRPC.
    public struct OpenTelemetryLogProvider: Sendable, Hashable {
        /// `service`: `[NAMESPACE/]HOST` of the collector in the registry.
        public var service: String
        /// `port`.
        public var port: UInt32
        /// `logName`; istiod's default `otel_envoy_accesslog` when empty.
        public var logName = ""
        /// `logFormat.text`: the record's body (Istio's text format when empty).
        public var text = ""
        /// `logFormat.labels`: the record's attributes (string values).
        public var labels: [String: String] = [:]
    }

    /// `zipkin` and `opentelemetry`: the tracer an HttpConnectionManager reports spans to.
    public struct TracingProvider: Sendable, Hashable {
        /// `service`: `[NAMESPACE/]HOST` of the collector in the registry.
        public var service: String
        /// `port`.
        public var port: UInt32
        /// `maxTagLength` (0: Envoy's default, 256).
        public var maxTagLength: UInt32 = 0
        /// zipkin `enable64bitTraceId` (istiod sends 128-bit ids unless it is set).
        public var enable64bitTraceId = false
        /// zipkin `path` (default `/api/v2/spans`), or opentelemetry `http.path`.
        public var path = ""
        /// zipkin `traceContextOption: USE_B3_WITH_W3C_PROPAGATION`.
        public var w3cPropagation = false
        /// opentelemetry: `http` is set (OTLP/HTTP instead of OTLP/gRPC).
        public var overHTTP = false
        /// opentelemetry `grpc.timeout` or `http.timeout`.
        public var timeout: Duration?
    }

    /// The mesh-wide telemetry settings of a mesh config.
    public struct TelemetrySettings: Sendable, Hashable {
        /// `accessLogFile`: with no Telemetry access logging and no default access log
        /// provider, every Envoy proxy logs here, as istiod does (empty: no access log).
        public var accessLogFile = ""
        /// `accessLogFormat`: the text line, or with JSON encoding a JSON object of format strings
        /// (empty: Istio's default format).
        public var accessLogFormat = ""
        /// `accessLogEncoding: JSON`.
        public var accessLogJSON = false
        /// `defaultProviders`.
        public var defaultProviders = DefaultProviders()

        /// No access log, no default providers.
        public init(
            accessLogFile: String = "", accessLogFormat: String = "", accessLogJSON: Bool = false,
            defaultProviders: DefaultProviders = DefaultProviders()
        ) {
            self.accessLogFile = accessLogFile
            self.accessLogFormat = accessLogFormat
            self.accessLogJSON = accessLogJSON
            self.defaultProviders = defaultProviders
        }
    }

    /// `defaultProviders`: the providers a Telemetry that names none uses, and what applies
    /// with no Telemetry at all.
    public struct DefaultProviders: Sendable, Hashable {
        /// `accessLogging`.
        public var accessLogging: [String] = []
        /// `tracing` (istiod uses the first).
        public var tracing: [String] = []

        /// None.
        public init(accessLogging: [String] = [], tracing: [String] = []) {
            self.accessLogging = accessLogging
            self.tracing = tracing
        }
    }
}

extension MeshConfig.ExtensionProvider {
    /// The provider's field name in Istio's oneof (`envoyFileAccessLog`, `zipkin`, …).
    public var kindName: String {
        switch kind {
        case .envoyExtAuthzHttp: "envoyExtAuthzHttp"
        case .envoyExtAuthzGrpc: "envoyExtAuthzGrpc"
        case .envoyFileAccessLog: "envoyFileAccessLog"
        case .envoyOtelAls: "envoyOtelAls"
        case .zipkin: "zipkin"
        case .opentelemetry: "opentelemetry"
        case .other(let name): name
        }
    }

    /// The service and port the provider calls, nil for a file logger and unparsed kinds.
    public var endpoint: (service: String, port: UInt32)? {
        switch kind {
        case .envoyExtAuthzHttp(let authorizer), .envoyExtAuthzGrpc(let authorizer): (authorizer.service, authorizer.port)
        case .envoyOtelAls(let provider): (provider.service, provider.port)
        case .zipkin(let provider), .opentelemetry(let provider): (provider.service, provider.port)
        case .envoyFileAccessLog, .other: nil
        }
    }

    /// Whether the provider is an access logger (`envoyFileAccessLog`, `envoyOtelAls`).
    public var isAccessLogger: Bool {
        switch kind {
        case .envoyFileAccessLog, .envoyOtelAls: true
        default: false
        }
    }

    /// The tracer's Envoy extension name and settings (`zipkin`, `opentelemetry`), or nil for
    /// another kind.
    public var tracer: (name: String, provider: MeshConfig.TracingProvider)? {
        switch kind {
        case .zipkin(let provider): ("envoy.tracers.zipkin", provider)
        case .opentelemetry(let provider): ("envoy.tracers.opentelemetry", provider)
        default: nil
        }
    }
}

extension MeshConfig {
    /// The provider kinds meshd translates for telemetry, and how they are read.
    static func telemetryProvider(_ field: String, _ reader: FieldReader) throws(MeshModelError) -> ExtensionProvider.Kind? {
        switch field {
        case "envoyFileAccessLog":
            guard try reader.object() != nil else { throw reader.error("the provider must be a mapping") }
            var provider = FileAccessLogProvider()
            if let path = try reader["path"].string(), !path.isEmpty { provider.path = path }
            provider.format = try logFormat(reader["logFormat"])
            provider.omitEmptyValues = try reader["omitEmptyValues"].boolean() ?? false
            return .envoyFileAccessLog(provider)
        case "envoyOtelAls":
            let (service, port) = try serviceAndPort(reader)
            var provider = OpenTelemetryLogProvider(service: service, port: port)
            provider.logName = try reader["logName"].string() ?? ""
            if try reader["logFormat"].object() != nil {
                provider.text = try reader["logFormat"]["text"].string() ?? ""
                for (key, value) in try reader["logFormat"]["labels"].members() {
                    guard case .string(let text)? = value.value else { throw value.error("an OpenTelemetry attribute must be a string") }
                    provider.labels[key] = text
                }
            }
            return .envoyOtelAls(provider)
        case "zipkin":
            let (service, port) = try serviceAndPort(reader)
            var provider = TracingProvider(service: service, port: port)
            provider.maxTagLength = try reader["maxTagLength"].uint32() ?? 0
            provider.enable64bitTraceId = try reader["enable64bitTraceId"].boolean() ?? false
            provider.path = try reader["path"].string() ?? ""
            if !provider.path.isEmpty, !provider.path.hasPrefix("/") { throw reader["path"].error("path must start with /") }
            let option = try reader["traceContextOption"].oneOf(["USE_B3", "USE_B3_WITH_W3C_PROPAGATION"], what: "traceContextOption")
            provider.w3cPropagation = option == "USE_B3_WITH_W3C_PROPAGATION"
            return .zipkin(provider)
        case "opentelemetry":
            let (service, port) = try serviceAndPort(reader)
            var provider = TracingProvider(service: service, port: port)
            provider.maxTagLength = try reader["maxTagLength"].uint32() ?? 0
            if !reader["http"].isAbsent, !reader["grpc"].isAbsent { throw reader["http"].error("only one of http or grpc can be set") }
            if try reader["http"].object() != nil {
                provider.overHTTP = true
                provider.path = try reader["http"]["path"].string() ?? ""
                provider.timeout = try reader["http"]["timeout"].durationValue()
            } else if try reader["grpc"].object() != nil {
                provider.timeout = try reader["grpc"]["timeout"].durationValue()
            }
            return .opentelemetry(provider)
        default:
            return nil
        }
    }

    private static func logFormat(_ reader: FieldReader) throws(MeshModelError) -> LogFormat? {
        guard try reader.object() != nil else { return nil }
        if !reader["text"].isAbsent, !reader["labels"].isAbsent { throw reader.error("logFormat sets one of text or labels, found both") }
        if let text = try reader["text"].string() { return .text(text) }
        if let labels = try reader["labels"].object() { return .labels(labels) }
        return nil
    }

    /// `service` (`[NAMESPACE/]HOST`) and `port`, both required, as for the ext_authz providers.
    static func serviceAndPort(_ reader: FieldReader) throws(MeshModelError) -> (String, UInt32) {
        guard try reader.object() != nil else { throw reader.error("the provider must be a mapping") }
        let service = try reader["service"].requiredString()
        let host = service.split(separator: "/", maxSplits: 1).last.map(String.init) ?? service
        let parts = service.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, !host.isEmpty, NameRules.isHost(host), !host.hasPrefix("*"),
            parts.count == 1 || NameRules.isDNS1123Label(String(parts[0]))
        else {
            throw reader["service"].error("\"\(service)\" must be HOST or NAMESPACE/HOST naming a service in the registry")
        }
        guard let port = try reader["port"].port() else { throw reader["port"].error("port is required") }
        return (service, port)
    }

    /// The MeshConfig fields of telemetry meshd acts on (`honoured`).
    static let telemetryHonoured: Set<String> = [
        "accessLogFile", "accessLogFormat", "accessLogEncoding", "defaultProviders", "defaultProviders.accessLogging",
        "defaultProviders.tracing",
        "extensionProviders.envoyFileAccessLog", "extensionProviders.envoyFileAccessLog.path",
        "extensionProviders.envoyFileAccessLog.logFormat", "extensionProviders.envoyFileAccessLog.logFormat.text",
        "extensionProviders.envoyFileAccessLog.logFormat.labels", "extensionProviders.envoyFileAccessLog.omitEmptyValues",
        "extensionProviders.envoyOtelAls", "extensionProviders.envoyOtelAls.service", "extensionProviders.envoyOtelAls.port",
        "extensionProviders.envoyOtelAls.logName", "extensionProviders.envoyOtelAls.logFormat",
        "extensionProviders.envoyOtelAls.logFormat.text", "extensionProviders.envoyOtelAls.logFormat.labels",
        "extensionProviders.zipkin", "extensionProviders.zipkin.service", "extensionProviders.zipkin.port",
        "extensionProviders.zipkin.maxTagLength", "extensionProviders.zipkin.enable64bitTraceId", "extensionProviders.zipkin.path",
        "extensionProviders.zipkin.traceContextOption",
        "extensionProviders.opentelemetry", "extensionProviders.opentelemetry.service", "extensionProviders.opentelemetry.port",
        "extensionProviders.opentelemetry.maxTagLength", "extensionProviders.opentelemetry.grpc",
        "extensionProviders.opentelemetry.grpc.timeout", "extensionProviders.opentelemetry.http",
        "extensionProviders.opentelemetry.http.path", "extensionProviders.opentelemetry.http.timeout",
    ]
}

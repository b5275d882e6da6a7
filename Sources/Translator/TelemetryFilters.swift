import Discovery
import EnvoyAPI
import MeshModel
import SwiftProtobuf

/// Telemetry → Envoy, as istiod builds it (`pilot/pkg/model/telemetry_logging.go`,
/// `networking/core/accesslog.go` and `tracing.go`): access loggers (file, OpenTelemetry) for
/// HttpConnectionManagers and tcp_proxy filters, and the HttpConnectionManager's tracing.
///
/// A provider that cannot be built (not in the mesh config, of the wrong kind, or whose service
/// is not in the registry) is left out, as istiod leaves it out; `problems` says why, for the
/// warnings of the Telemetry naming it.
public enum TelemetryFilters {
    /// The file access logger's extension name.
    public static let fileAccessLogName = "envoy.access_loggers.file"
    /// The OpenTelemetry access logger's extension name.
    public static let openTelemetryAccessLogName = "envoy.access_loggers.open_telemetry"
    /// The CEL access-log filter's extension name.
    public static let celFilterName = "envoy.access_loggers.extension_filters.cel"
    /// istiod's OpenTelemetry log name when the provider gives none.
    static let defaultOpenTelemetryLogName = "otel_envoy_accesslog"
    /// Zipkin's span endpoint when the provider gives no path (v2 JSON, as istiod).
    static let defaultZipkinPath = "/api/v2/spans"

    /// Istio's default text access log line (`EnvoyTextLogFormat`).
    public static let defaultTextFormat =
        "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% "
        + "%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% "
        + "%DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" "
        + "\"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% "
        + "%DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n"

    /// Istio's default JSON access log fields (`EnvoyJSONLogFormatIstio`).
    public static let defaultJSONFormat: [String: String] = [
        "start_time": "%START_TIME%", "route_name": "%ROUTE_NAME%", "method": "%REQ(:METHOD)%",
        "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "protocol": "%PROTOCOL%", "response_code": "%RESPONSE_CODE%",
        "response_flags": "%RESPONSE_FLAGS%", "response_code_details": "%RESPONSE_CODE_DETAILS%",
        "connection_termination_details": "%CONNECTION_TERMINATION_DETAILS%", "bytes_received": "%BYTES_RECEIVED%",
        "bytes_sent": "%BYTES_SENT%", "duration": "%DURATION%", "upstream_service_time": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
        "x_forwarded_for": "%REQ(X-FORWARDED-FOR)%", "user_agent": "%REQ(USER-AGENT)%", "request_id": "%REQ(X-REQUEST-ID)%",
        "authority": "%REQ(:AUTHORITY)%", "upstream_host": "%UPSTREAM_HOST%", "upstream_cluster": "%UPSTREAM_CLUSTER_RAW%",
        "upstream_local_address": "%UPSTREAM_LOCAL_ADDRESS%", "downstream_local_address": "%DOWNSTREAM_LOCAL_ADDRESS%",
        "downstream_remote_address": "%DOWNSTREAM_REMOTE_ADDRESS%", "requested_server_name": "%REQUESTED_SERVER_NAME%",
        "upstream_transport_failure_reason": "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
    ]

    /// The access loggers of `policy`.
    public static func accessLogs(_ policy: TelemetryPolicy, settings: MeshSettings, registry: RegistrySnapshot)
        -> [Envoy_Config_Accesslog_V3_AccessLog]
    {
        if policy.meshAccessLog {
            let mesh = settings.telemetry
            let format: MeshConfig.LogFormat? =
                mesh.accessLogJSON
                ? .labels(jsonObject(mesh.accessLogFormat))
                : mesh.accessLogFormat.isEmpty ? nil : .text(mesh.accessLogFormat)
            return [file(MeshConfig.FileAccessLogProvider(path: mesh.accessLogFile, format: format), filter: nil)]
        }
        return policy.accessLogs.compactMap { log in
            guard let provider = settings.provider(named: log.provider) else { return nil }
            switch provider.kind {
            case .envoyFileAccessLog(let file): return Self.file(file, filter: log.filter)
            case .envoyOtelAls(let otel):
                guard case .success(let target) = resolve(otel.service, port: otel.port, registry: registry) else { return nil }
                return openTelemetry(otel, target: target, filter: log.filter)
            default: return nil
            }
        }
    }

    /// The HttpConnectionManager's tracing for `policy`, nil without a tracer that can be built.
    /// Gateways start a child span per upstream request (`spawn_upstream_span`), as istiod has them.
    public static func tracing(_ policy: TelemetryPolicy, settings: MeshSettings, registry: RegistrySnapshot, gateway: Bool)
        -> Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager.Tracing?
    {
        guard let spec = policy.tracing, let provider = settings.provider(named: spec.provider), let (name, tracer) = provider.tracer,
            case .success(let target) = resolve(tracer.service, port: tracer.port, registry: registry)
        else { return nil }
        var tracing = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager.Tracing()
        tracing.clientSampling = percent(100)
        tracing.overallSampling = percent(100)
        tracing.randomSampling = percent(spec.samplingPercentage)
        if gateway { tracing.spawnUpstreamSpan = .init(true) }
        if tracer.maxTagLength != 0 { tracing.maxPathTagLength = .init(tracer.maxTagLength) }
        tracing.customTags = spec.customTags.keys.sorted().compactMap { key in spec.customTags[key].map { customTag(key, $0) } }
        var http = Envoy_Config_Trace_V3_Tracing.Http()
        http.name = name
        if case .zipkin = provider.kind {
            var zipkin = Envoy_Config_Trace_V3_ZipkinConfig()
            zipkin.collectorCluster = target.cluster
            zipkin.collectorEndpoint = tracer.path.isEmpty ? defaultZipkinPath : tracer.path
            zipkin.collectorHostname = target.host
            zipkin.collectorEndpointVersion = .httpJson
            zipkin.traceID128Bit = !tracer.enable64bitTraceId
            zipkin.sharedSpanContext = .init(false)
            if tracer.w3cPropagation { zipkin.traceContextOption = .useB3WithW3CPropagation }
            http.typedConfig = AnyPacking.pack(zipkin)
        } else {
            var otel = Envoy_Config_Trace_V3_OpenTelemetryConfig()
            otel.serviceName = serviceName(provider: provider.name)
            if tracer.overHTTP {
                var service = Envoy_Config_Core_V3_HttpService()
                service.httpUri.uri = target.host + (tracer.path.hasPrefix("/") || tracer.path.isEmpty ? "" : "/") + tracer.path
                service.httpUri.cluster = target.cluster
                service.httpUri.timeout = duration(tracer.timeout ?? .seconds(3))
                otel.httpService = service
            } else {
                otel.grpcService = grpcService(target)
                if let timeout = tracer.timeout { otel.grpcService.timeout = duration(timeout) }
            }
            http.typedConfig = AnyPacking.pack(otel)
        }
        tracing.provider = http
        return tracing
    }

    /// Why `name` cannot be used for access logging (`forTracing` false) or tracing; nil when it can.
    public static func problem(provider name: String, forTracing: Bool, settings: MeshSettings, registry: RegistrySnapshot) -> String? {
        guard let provider = settings.provider(named: name) else {
            return "the mesh config has no extension provider \"\(name)\""
        }
        if forTracing {
            guard let (_, tracer) = provider.tracer else {
                return "extension provider \"\(name)\" (\(provider.kindName)) is not a tracer meshd builds (zipkin, opentelemetry)"
            }
            if case .failure(let error) = resolve(tracer.service, port: tracer.port, registry: registry) { return error.message }
            return nil
        }
        switch provider.kind {
        case .envoyFileAccessLog: return nil
        case .envoyOtelAls(let otel):
            if case .failure(let error) = resolve(otel.service, port: otel.port, registry: registry) { return error.message }
            return nil
        default:
            return "extension provider \"\(name)\" (\(provider.kindName)) is not an access logger meshd builds (envoyFileAccessLog, envoyOtelAls)"
        }
    }

    /// The span's service name: istiod uses the proxy's `Node.cluster`; meshd's views are shared
    /// by proxies of one namespace and labels, so the provider's name stands in (docs/telemetry.md).
    static func serviceName(provider: String) -> String { provider }

    struct Target: Sendable, Hashable {
        var cluster: String
        var host: String
    }

    struct ResolveError: Error { var message: String }

    /// The cluster a provider calls (`outbound|PORT||HOST`), as istiod's `LookupCluster`.
    static func resolve(_ service: String, port: UInt32, registry: RegistrySnapshot) -> Result<Target, ResolveError> {
        let parts = service.split(separator: "/", maxSplits: 1).map(String.init)
        let host = parts.last ?? service
        guard let found = registry.service(host) else {
            return .failure(ResolveError(message: "the provider's service \"\(service)\" is not in the registry"))
        }
        if parts.count == 2, parts[0] != found.namespace {
            return .failure(ResolveError(message: "the provider's service \"\(service)\" is not in namespace \(parts[0])"))
        }
        return .success(Target(cluster: ClusterName.outbound(port: port, host: found.host), host: found.host))
    }

    private static func file(_ provider: MeshConfig.FileAccessLogProvider, filter: String?) -> Envoy_Config_Accesslog_V3_AccessLog {
        var format = Envoy_Config_Core_V3_SubstitutionFormatString()
        switch provider.format {
        case .labels(let labels):
            format.jsonFormat = labels.isEmpty ? structValue(defaultJSONFormat.mapValues(JSONValue.string)) : structValue(labels)
        case .text(let text):
            format.textFormatSource.inlineString = text.isEmpty ? defaultTextFormat : text.hasSuffix("\n") ? text : text + "\n"
        case nil:
            format.textFormatSource.inlineString = defaultTextFormat
        }
        format.omitEmptyValues = provider.omitEmptyValues
        var config = Envoy_Extensions_AccessLoggers_File_V3_FileAccessLog()
        config.path = provider.path
        config.logFormat = format
        return accessLog(fileAccessLogName, AnyPacking.pack(config), filter: filter)
    }

    private static func openTelemetry(_ provider: MeshConfig.OpenTelemetryLogProvider, target: Target, filter: String?)
        -> Envoy_Config_Accesslog_V3_AccessLog
    {
        var config = Envoy_Extensions_AccessLoggers_OpenTelemetry_V3_OpenTelemetryAccessLogConfig()
        config.commonConfig.logName = provider.logName.isEmpty ? defaultOpenTelemetryLogName : provider.logName
        config.commonConfig.grpcService = grpcService(target)
        config.commonConfig.transportApiVersion = .v3
        config.disableBuiltinLabels = true
        config.body.stringValue = provider.text.isEmpty ? defaultTextFormat : provider.text
        config.attributes.values = provider.labels.keys.sorted().map { key in
            var pair = Opentelemetry_Proto_Common_V1_KeyValue()
            pair.key = key
            pair.value.stringValue = provider.labels[key] ?? ""
            return pair
        }
        if config.attributes.values.isEmpty { config.clearAttributes() }
        return accessLog(openTelemetryAccessLogName, AnyPacking.pack(config), filter: filter)
    }

    private static func accessLog(_ name: String, _ config: Google_Protobuf_Any, filter: String?) -> Envoy_Config_Accesslog_V3_AccessLog {
        var log = Envoy_Config_Accesslog_V3_AccessLog()
        log.name = name
        log.typedConfig = config
        if let filter {
            var expression = Envoy_Extensions_AccessLoggers_Filters_Cel_V3_ExpressionFilter()
            expression.expression = filter
            log.filter.extensionFilter.name = celFilterName
            log.filter.extensionFilter.typedConfig = AnyPacking.pack(expression)
        }
        return log
    }

    private static func grpcService(_ target: Target) -> Envoy_Config_Core_V3_GrpcService {
        var service = Envoy_Config_Core_V3_GrpcService()
        service.envoyGrpc.clusterName = target.cluster
        service.envoyGrpc.authority = target.host
        return service
    }

    private static func customTag(_ name: String, _ tag: Telemetry.CustomTag) -> Envoy_Type_Tracing_V3_CustomTag {
        var result = Envoy_Type_Tracing_V3_CustomTag()
        result.tag = name
        switch tag {
        case .literal(let value): result.literal.value = value
        case .environment(let variable, let fallback):
            result.environment.name = variable
            result.environment.defaultValue = fallback
        case .header(let header, let fallback):
            result.requestHeader.name = header
            result.requestHeader.defaultValue = fallback
        case .formatter(let value): result.value = value
        }
        return result
    }

    private static func percent(_ value: Double) -> Envoy_Type_V3_Percent {
        var percent = Envoy_Type_V3_Percent()
        percent.value = value
        return percent
    }

    private static func duration(_ value: Duration) -> Google_Protobuf_Duration {
        let (seconds, attoseconds) = value.components
        return Google_Protobuf_Duration(seconds: seconds, nanos: Int32(attoseconds / 1_000_000_000))
    }

    /// The JSON object `text` holds (validated when the mesh config was read); empty otherwise.
    private static func jsonObject(_ text: String) -> [String: JSONValue] {
        guard !text.isEmpty, case .object(let members)? = try? JSONValue.parse(json: text) else { return [:] }
        return members
    }

    static func structValue(_ members: [String: JSONValue]) -> Google_Protobuf_Struct {
        var result = Google_Protobuf_Struct()
        for (key, value) in members { result.fields[key] = protobufValue(value) }
        return result
    }

    private static func protobufValue(_ value: JSONValue) -> Google_Protobuf_Value {
        switch value {
        case .null: Google_Protobuf_Value(nilLiteral: ())
        case .bool(let flag): Google_Protobuf_Value(boolValue: flag)
        case .number(let number): Google_Protobuf_Value(numberValue: number)
        case .string(let text): Google_Protobuf_Value(stringValue: text)
        case .array(let items): Google_Protobuf_Value(listValue: Google_Protobuf_ListValue(values: items.map(protobufValue)))
        case .object(let members): Google_Protobuf_Value(structValue: structValue(members))
        }
    }
}

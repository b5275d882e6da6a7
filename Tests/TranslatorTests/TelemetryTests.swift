import EnvoyAPI
import MeshModel
import MeshTesting
import PushPipeline
import Testing

@testable import Translator

/// A Telemetry `name` in `namespace` with `spec` (YAML lines indented by two).
func telemetry(_ name: String, _ namespace: String, _ spec: String) -> String {
    """
    apiVersion: telemetry.istio.io/v1
    kind: Telemetry
    metadata: {name: \(name), namespace: \(namespace)}
    spec:
    \(spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
    """
}

private typealias Manager = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager
private typealias FileLog = Envoy_Extensions_AccessLoggers_File_V3_FileAccessLog
private typealias OtelLog = Envoy_Extensions_AccessLoggers_OpenTelemetry_V3_OpenTelemetryAccessLogConfig
private typealias TcpProxy = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy

private let providers = """
    extensionProviders:
    - name: stdout
      envoyFileAccessLog: {path: /dev/stdout}
    - name: json
      envoyFileAccessLog: {path: /var/log/access.json, logFormat: {labels: {code: "%RESPONSE_CODE%"}}}
    - name: otel-logs
      envoyOtelAls: {service: otel.observability.svc.cluster.local, port: 4317, logFormat: {labels: {pod: "%ENVIRONMENT(POD_NAME)%"}}}
    - name: zipkin
      zipkin: {service: zipkin.observability.svc.cluster.local, port: 9411}
    - name: otel-traces
      opentelemetry: {service: observability/otel.observability.svc.cluster.local, port: 4317, maxTagLength: 99}
    - name: authz
      envoyExtAuthzGrpc: {service: otel.observability.svc.cluster.local, port: 4317}
    """
private let collectors = """
    apiVersion: networking.istio.io/v1
    kind: ServiceEntry
    metadata: {name: otel, namespace: observability}
    spec:
      hosts: [otel.observability.svc.cluster.local]
      ports: [{number: 4317, name: grpc, protocol: GRPC}]
      resolution: STATIC
      endpoints: [{address: 10.0.9.1}]
    ---
    apiVersion: networking.istio.io/v1
    kind: ServiceEntry
    metadata: {name: zipkin, namespace: observability}
    spec:
      hosts: [zipkin.observability.svc.cluster.local]
      ports: [{number: 9411, name: http, protocol: HTTP}]
      resolution: STATIC
      endpoints: [{address: 10.0.9.2}]
    """

private func settings(_ extra: String = "") throws -> MeshSettings {
    let config = try MeshConfig.parse(providers + "\n" + extra).config
    return MeshSettings(extensionProviders: config.extensionProviders, telemetry: config.telemetry)
}

private let workload = Proxy(id: EnvoyFixture.nodeID, kind: .sidecar, labels: ["app": "productpage"], instanceIPs: ["10.0.0.5"])

private func envoy(_ configs: [String], mesh: String = "", proxy: Proxy = workload) throws -> EnvoySnapshot {
    try EnvoySnapshot(context([EnvoyFixture.mesh, collectors] + configs, settings: settings(mesh)), proxy: proxy)
}

/// The connection manager of the HTTP outbound listener on 9080 and of virtualInbound's HTTP chain.
private func managers(_ envoy: EnvoySnapshot) throws -> (outbound: Manager, inbound: Manager) {
    let inbound = try #require(envoy.listeners["virtualInbound"]?.filterChains.last)
    return (try envoy.manager("0.0.0.0_9080"), try Manager(serializedBytes: inbound.filters[0].typedConfig.value))
}

@Suite("Telemetry: access logs and tracing for Envoy proxies")
struct TelemetryTests {
    @Test func withoutTelemetryNothingIsLoggedOrTraced() throws {
        let (outbound, inbound) = try managers(envoy([]))
        #expect(outbound.accessLog.isEmpty && !outbound.hasTracing)
        #expect(inbound.accessLog.isEmpty && !inbound.hasTracing)
    }

    @Test func meshAccessLogFileIsTheFallbackWithIstiosTextFormat() throws {
        let (outbound, inbound) = try managers(envoy([], mesh: "accessLogFile: /dev/stdout"))
        for manager in [outbound, inbound] {
            let log = try #require(manager.accessLog.first)
            #expect(log.name == TelemetryFilters.fileAccessLogName)
            let file = try FileLog(serializedBytes: log.typedConfig.value)
            #expect(file.path == "/dev/stdout")
            #expect(file.logFormat.textFormatSource.inlineString == TelemetryFilters.defaultTextFormat)
        }
    }

    @Test func meshWideFileLogWithCELFilterReachesEveryHTTPAndTCPFilter() throws {
        let envoy = try envoy([
            telemetry("mesh-default", "istio-system", "accessLogging:\n- providers: [{name: stdout}]\n  filter: {expression: 'response.code >= 400'}")
        ])
        let (outbound, inbound) = try managers(envoy)
        for manager in [outbound, inbound] {
            let log = try #require(manager.accessLog.first)
            #expect(manager.accessLog.count == 1 && log.name == TelemetryFilters.fileAccessLogName)
            #expect(log.filter.extensionFilter.name == TelemetryFilters.celFilterName)
            let expression = try Envoy_Extensions_AccessLoggers_Filters_Cel_V3_ExpressionFilter(
                serializedBytes: log.filter.extensionFilter.typedConfig.value)
            #expect(expression.expression == "response.code >= 400")
        }
        // The passthrough chain logs too.
        let tcp = try #require(envoy.listeners["virtualOutbound"]?.defaultFilterChain.filters.first)
        #expect(try TcpProxy(serializedBytes: tcp.typedConfig.value).accessLog.count == 1)
        // The proxy's own listeners do not.
        let stats = try #require(envoy.listeners["0.0.0.0_15090"]?.filterChains.first?.filters.first)
        #expect(try Manager(serializedBytes: stats.typedConfig.value).accessLog.isEmpty)
    }

    @Test func aWorkloadTelemetryOverridesTheNamespaceAndModesSplitDirections() throws {
        let configs = [
            telemetry("mesh-default", "istio-system", "accessLogging:\n- providers: [{name: stdout}]"),
            telemetry("ns", "default", "accessLogging:\n- providers: [{name: json}]"),
            telemetry(
                "pp", "default",
                "selector: {matchLabels: {app: productpage}}\naccessLogging:\n- providers: [{name: otel-logs}]\n  match: {mode: SERVER}\ntracing:\n- providers: [{name: zipkin}]"
            ),
        ]
        let (outbound, inbound) = try managers(envoy(configs))
        let file = try FileLog(serializedBytes: #require(outbound.accessLog.first).typedConfig.value)
        #expect(outbound.accessLog.count == 1 && file.path == "/var/log/access.json")
        #expect(file.logFormat.jsonFormat.fields["code"]?.stringValue == "%RESPONSE_CODE%")
        let log = try #require(inbound.accessLog.first)
        #expect(inbound.accessLog.count == 1 && log.name == TelemetryFilters.openTelemetryAccessLogName)
        let otel = try OtelLog(serializedBytes: log.typedConfig.value)
        #expect(otel.commonConfig.grpcService.envoyGrpc.clusterName == "outbound|4317||otel.observability.svc.cluster.local")
        #expect(otel.commonConfig.logName == "otel_envoy_accesslog" && otel.commonConfig.transportApiVersion == .v3)
        #expect(otel.attributes.values.map(\.key) == ["pod"] && otel.body.stringValue == TelemetryFilters.defaultTextFormat)
        #expect(outbound.hasTracing)
        // Another workload of the namespace gets the namespace's log and not the workload's tracing.
        let other = Proxy(id: EnvoyFixture.nodeID, kind: .sidecar, labels: ["app": "other"], instanceIPs: ["10.0.0.6"])
        let otherOutbound = try envoy(configs, proxy: other).manager("0.0.0.0_9080")
        #expect(try FileLog(serializedBytes: #require(otherOutbound.accessLog.first).typedConfig.value).path == "/var/log/access.json")
        #expect(!otherOutbound.hasTracing)
    }

    @Test func disabledAtTheWorkloadTurnsTheParentsLogOff() throws {
        let (outbound, inbound) = try managers(
            envoy([
                telemetry("mesh-default", "istio-system", "accessLogging:\n- providers: [{name: stdout}]"),
                telemetry("pp", "default", "selector: {matchLabels: {app: productpage}}\naccessLogging:\n- disabled: true"),
            ]))
        #expect(outbound.accessLog.isEmpty && inbound.accessLog.isEmpty)
    }

    @Test func defaultProvidersApplyWithoutTelemetry() throws {
        let (outbound, _) = try managers(envoy([], mesh: "defaultProviders: {accessLogging: [stdout], tracing: [zipkin]}"))
        #expect(outbound.accessLog.count == 1)
        #expect(outbound.tracing.randomSampling.value == TelemetryPolicy.defaultSamplingPercentage)
        #expect(outbound.tracing.provider.name == "envoy.tracers.zipkin")
    }

    @Test func zipkinTracingWithSamplingAndCustomTags() throws {
        let (outbound, inbound) = try managers(
            envoy([
                telemetry(
                    "mesh-default", "istio-system",
                    """
                    tracing:
                    - providers: [{name: zipkin}]
                      randomSamplingPercentage: 12.5
                      customTags:
                        team: {literal: {value: payments}}
                        user: {header: {name: x-user, defaultValue: anonymous}}
                        pod: {environment: {name: POD_NAME}}
                        sni: {formatter: {value: "%REQUESTED_SERVER_NAME%"}}
                    """)
            ]))
        for manager in [outbound, inbound] {
            let tracing = manager.tracing
            #expect(tracing.randomSampling.value == 12.5 && tracing.clientSampling.value == 100 && tracing.overallSampling.value == 100)
            #expect(tracing.customTags.map(\.tag) == ["pod", "sni", "team", "user"])
            #expect(tracing.customTags[3].requestHeader.name == "x-user" && tracing.customTags[3].requestHeader.defaultValue == "anonymous")
            #expect(tracing.customTags[1].value == "%REQUESTED_SERVER_NAME%")
            #expect(!tracing.hasSpawnUpstreamSpan)
            let zipkin = try Envoy_Config_Trace_V3_ZipkinConfig(serializedBytes: tracing.provider.typedConfig.value)
            #expect(zipkin.collectorCluster == "outbound|9411||zipkin.observability.svc.cluster.local")
            #expect(zipkin.collectorEndpoint == "/api/v2/spans" && zipkin.collectorHostname == "zipkin.observability.svc.cluster.local")
            #expect(zipkin.collectorEndpointVersion == .httpJson && zipkin.traceID128Bit)
        }
    }

    @Test func clientModeTracesOutboundOnlyAndSpanReportingCanBeDisabled() throws {
        let (outbound, inbound) = try managers(
            envoy([
                telemetry("ns", "default", "tracing:\n- providers: [{name: otel-traces}]\n  match: {mode: CLIENT}\n  randomSamplingPercentage: 100")
            ]))
        #expect(outbound.hasTracing && !inbound.hasTracing)
        #expect(outbound.tracing.provider.name == "envoy.tracers.opentelemetry" && outbound.tracing.maxPathTagLength.value == 99)
        let otel = try Envoy_Config_Trace_V3_OpenTelemetryConfig(serializedBytes: outbound.tracing.provider.typedConfig.value)
        #expect(otel.grpcService.envoyGrpc.clusterName == "outbound|4317||otel.observability.svc.cluster.local")
        let (off, _) = try managers(
            envoy([
                telemetry("ns", "default", "tracing:\n- providers: [{name: zipkin}]"),
                telemetry("pp", "default", "selector: {matchLabels: {app: productpage}}\ntracing:\n- disableSpanReporting: true"),
            ]))
        #expect(!off.hasTracing)
    }

    @Test func gatewaysLogAndTraceAsTheClientSideWithUpstreamSpans() throws {
        let push = try context(
            [
                EnvoyFixture.mesh, collectors,
                GatewayFixture.gateway(servers: [GatewayFixture.http(hosts: ["*"])]),
                telemetry("mesh-default", "istio-system", "accessLogging:\n- providers: [{name: stdout}]\ntracing:\n- providers: [{name: zipkin}]"),
            ], settings: settings())
        let gateway = try EnvoySnapshot(push, proxy: GatewayFixture.proxy())
        let manager = try gateway.manager("0.0.0.0_80")
        #expect(manager.accessLog.count == 1 && manager.tracing.spawnUpstreamSpan.value)
    }

    @Test func providersThatCannotBeBuiltAreLeftOutAndWarned() throws {
        let push = try context(
            [
                EnvoyFixture.mesh,
                telemetry(
                    "mesh-default", "istio-system",
                    "accessLogging:\n- providers: [{name: otel-logs}, {name: authz}, {name: nope}]\ntracing:\n- providers: [{name: stdout}]"),
            ], settings: settings())
        let (outbound, _) = try managers(EnvoySnapshot(push, proxy: workload))
        #expect(outbound.accessLog.isEmpty && !outbound.hasTracing)
        let messages = push.warnings.filter { $0.key.kind == .telemetry }.map { "\($0.field): \($0.message)" }
        #expect(messages.contains { $0.hasPrefix("spec.accessLogging[0].providers[0].name: the provider's service") })
        #expect(messages.contains { $0.hasPrefix("spec.accessLogging[0].providers[1].name: extension provider \"authz\"") })
        #expect(messages.contains { $0.hasPrefix("spec.accessLogging[0].providers[2].name: the mesh config has no extension provider") })
        #expect(messages.contains { $0.hasPrefix("spec.tracing[0].providers[0].name: extension provider \"stdout\"") })
    }
}

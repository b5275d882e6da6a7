import MeshModel
import Testing

@Suite("Mesh config (--mesh-config): Istio's MeshConfig YAML")
struct MeshConfigTests {
    @Test func readsWhatMeshdActsOnAndListsTheRest() throws {
        let loaded = try MeshConfig.parse(
            """
            rootNamespace: mesh-root
            trustDomain: example.org
            accessLogFile: /dev/stdout
            defaultConfig: {discoveryAddress: meshd:15012}
            extensionProviders:
            - name: opa
              envoyExtAuthzHttp:
                service: auth/opa.auth.svc.cluster.local
                port: 8181
                timeout: 2s
                includeRequestHeadersInCheck: [authorization]
                includeAdditionalHeadersInCheck: {x-from: mesh}
                includeRequestBodyInCheck: {maxRequestBytes: 4096, allowPartialMessage: true}
            - name: tracing
              zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}
            """)
        #expect(loaded.config.rootNamespace == "mesh-root" && loaded.config.trustDomain == "example.org")
        #expect(loaded.config.extensionProviders.map(\.name) == ["opa", "tracing"])
        let opa = try #require(loaded.config.provider(named: "opa")?.authorizer)
        #expect(opa.serviceNamespace == "auth" && opa.serviceHost == "opa.auth.svc.cluster.local" && opa.port == 8181)
        #expect(opa.timeout == .seconds(2) && opa.includeRequestBodyInCheck?.maxRequestBytes == 4096)
        #expect(loaded.config.provider(named: "tracing")?.tracer?.name == "envoy.tracers.zipkin")
        #expect(loaded.config.telemetry.accessLogFile == "/dev/stdout")
        #expect(loaded.notHonoured.map(\.path) == ["defaultConfig"])
    }

    @Test func readsTelemetryProvidersAndDefaults() throws {
        let loaded = try MeshConfig.parse(
            """
            accessLogEncoding: JSON
            accessLogFormat: '{"code": "%RESPONSE_CODE%"}'
            defaultProviders: {accessLogging: [otel], tracing: [traces]}
            extensionProviders:
            - name: file
              envoyFileAccessLog: {path: /tmp/a.log, logFormat: {text: "%START_TIME%"}, omitEmptyValues: true}
            - name: otel
              envoyOtelAls: {service: otel.o.svc.cluster.local, port: 4317, logName: mesh, logFormat: {labels: {a: b}}}
            - name: traces
              opentelemetry: {service: o/otel.o.svc.cluster.local, port: 4318, http: {path: /v1/traces, timeout: 2s, headers: [{name: a, value: b}]}}
            - name: z
              zipkin: {service: zipkin.o.svc.cluster.local, port: 9411, enable64bitTraceId: true, traceContextOption: USE_B3_WITH_W3C_PROPAGATION, timeout: 1s}
            """)
        let config = loaded.config
        #expect(config.telemetry.accessLogJSON && config.telemetry.defaultProviders == .init(accessLogging: ["otel"], tracing: ["traces"]))
        #expect(
            config.provider(named: "file")?.kind
                == .envoyFileAccessLog(.init(path: "/tmp/a.log", format: .text("%START_TIME%"), omitEmptyValues: true)))
        guard case .envoyOtelAls(let otel)? = config.provider(named: "otel")?.kind else {
            Issue.record("not envoyOtelAls")
            return
        }
        #expect(otel.logName == "mesh" && otel.labels == ["a": "b"] && otel.port == 4317)
        let traces = try #require(config.provider(named: "traces")?.tracer)
        #expect(traces.name == "envoy.tracers.opentelemetry" && traces.provider.overHTTP && traces.provider.path == "/v1/traces")
        #expect(traces.provider.timeout == .seconds(2))
        let zipkin = try #require(config.provider(named: "z")?.tracer?.provider)
        #expect(zipkin.enable64bitTraceId && zipkin.w3cPropagation)
        #expect(loaded.notHonoured.map(\.path) == ["extensionProviders[2].opentelemetry.http.headers", "extensionProviders[3].zipkin.timeout"])
    }

    @Test(arguments: [
        ("defaultProviders: {tracing: [nope]}", "defaultProviders.tracing"),
        ("accessLogEncoding: JSON\naccessLogFormat: 'not json'", "accessLogFormat"),
        ("extensionProviders:\n- name: z\n  zipkin: {service: zipkin, port: 0}", "extensionProviders[0].zipkin.port"),
        ("extensionProviders:\n- name: o\n  opentelemetry: {service: o, port: 1, http: {}, grpc: {}}", "extensionProviders[0].opentelemetry.http"),
    ])
    func refusesBadTelemetrySettings(text: String, field: String) {
        #expect {
            _ = try MeshConfig.parse(text)
        } throws: { error in
            "\(error)".contains(field)
        }
    }

    @Test func anEmptyFileIsTheDefaults() throws {
        #expect(try MeshConfig.parse("").config == MeshConfig())
        #expect(try MeshConfig.parse("# nothing\n").config == MeshConfig())
    }

    @Test(arguments: [
        ("rootNamespce: x", "rootNamespce"),
        (
            "extensionProviders:\n- name: a\n  envoyExtAuthzHttp: {service: s.ns.svc, port: 80, pathPrefx: /x}",
            "extensionProviders[0].envoyExtAuthzHttp.pathPrefx"
        ),
        ("trustDomain: 'Bad_Domain'", "trustDomain"),
        ("rootNamespace: Not-A-Label", "rootNamespace"),
        ("extensionProviders:\n- name: Opa\n  envoyExtAuthzGrpc: {service: s, port: 80}", "extensionProviders[0].name"),
        ("extensionProviders:\n- name: a\n  envoyExtAuthzGrpc: {service: s, port: 0}", "extensionProviders[0].envoyExtAuthzGrpc.port"),
        (
            "extensionProviders:\n- name: a\n  envoyExtAuthzGrpc: {service: s, port: 80, statusOnError: '0'}",
            "extensionProviders[0].envoyExtAuthzGrpc.statusOnError"
        ),
        (
            "extensionProviders:\n- name: a\n  envoyExtAuthzHttp: {service: s, port: 80, pathPrefix: x}",
            "extensionProviders[0].envoyExtAuthzHttp.pathPrefix"
        ),
        (
            "extensionProviders:\n- name: a\n  envoyExtAuthzHttp: {service: s, port: 80, headersToUpstreamOnAllow: ['*']}",
            "extensionProviders[0].envoyExtAuthzHttp.headersToUpstreamOnAllow[0]"
        ),
        ("extensionProviders:\n- name: a\n  envoyExtAuthzHttp: {service: 'a/b/c', port: 80}", "extensionProviders[0].envoyExtAuthzHttp.service"),
        (
            "extensionProviders:\n- name: a\n  envoyExtAuthzHttp: {service: s, port: 80}\n- name: a\n  envoyExtAuthzGrpc: {service: s, port: 80}",
            "extensionProviders[1].name"
        ),
        ("extensionProviders:\n- name: a", "extensionProviders[0]"),
    ])
    func invalidFilesNameTheField(_ text: String, _ field: String) {
        do {
            _ = try MeshConfig.parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.field == field, "\(error)")
        }
    }
}

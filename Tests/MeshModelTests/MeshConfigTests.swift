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
        #expect(loaded.config.provider(named: "tracing")?.kind == .other("zipkin"))
        #expect(loaded.notHonoured.map(\.path) == ["accessLogFile", "defaultConfig", "extensionProviders[1].zipkin"])
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

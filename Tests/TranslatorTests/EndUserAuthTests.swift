import EnvoyAPI
import MeshModel
import MeshTesting
import PushPipeline
import Testing

@testable import Translator

/// A RequestAuthentication `name` in `namespace` with `spec` (YAML lines indented by two).
func requestAuthentication(_ name: String, _ namespace: String, _ spec: String) -> String {
    """
    apiVersion: security.istio.io/v1
    kind: RequestAuthentication
    metadata: {name: \(name), namespace: \(namespace)}
    spec:
    \(spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
    """
}

private typealias Manager = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager
private typealias JWT = Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtAuthentication

private let workload = Proxy(id: EnvoyFixture.nodeID, kind: .sidecar, labels: ["app": "productpage"], instanceIPs: ["10.0.0.5"])
private let keys =
    #"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#
private let authorizer = """
    extensionProviders:
    - name: opa
      envoyExtAuthzHttp: {service: opa.default.svc.cluster.local, port: 8181, pathPrefix: /check, includeRequestHeadersInCheck: [authorization, x-*], statusOnError: "503"}
    - name: opa-grpc
      envoyExtAuthzGrpc: {service: default/opa.default.svc.cluster.local, port: 9191, timeout: 0.5s, failOpen: true}
    """
private let opaService = """
    apiVersion: networking.istio.io/v1
    kind: ServiceEntry
    metadata: {name: opa, namespace: default}
    spec:
      hosts: [opa.default.svc.cluster.local]
      ports: [{number: 8181, name: http, protocol: HTTP}, {number: 9191, name: grpc, protocol: GRPC}]
      resolution: STATIC
      endpoints: [{address: 10.0.3.1}]
    """

private func settings(_ yaml: String = authorizer, keySets: [String: String] = [:]) throws -> MeshSettings {
    MeshSettings(extensionProviders: try MeshConfig.parse(yaml).config.extensionProviders, fetchedKeySets: keySets)
}

/// The HTTP and TCP inbound chains' filters of productpage's sidecar.
private func inbound(_ configs: [String], settings: MeshSettings = MeshSettings()) throws -> (
    http: [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter], tcp: [Envoy_Config_Listener_V3_Filter]
) {
    let push = try context([EnvoyFixture.mesh, opaService] + configs, settings: settings)
    let envoy = try EnvoySnapshot(push, proxy: workload)
    let listener = try #require(envoy.listeners["virtualInbound"])
    let http = try #require(listener.filterChains.last)
    let manager = try Manager(serializedBytes: http.filters[0].typedConfig.value)
    let tcp = try #require(listener.filterChains.first { $0.filterChainMatch.destinationPort.value == 9000 })
    return (manager.httpFilters, tcp.filters)
}

private func jwt(_ filters: [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter]) throws -> JWT {
    try JWT(serializedBytes: #require(filters.first { $0.name == JWTAuthnFilter.name }).typedConfig.value)
}

@Suite("End-user authentication (jwt_authn) and external authorization (ext_authz)")
struct EndUserAuthTests {
    @Test func jwtRulesBecomeIstiodsProvidersInIssuerOrder() throws {
        let filters = try inbound([
            requestAuthentication(
                "b", "default", "jwtRules:\n- issuer: https://z.example\n  jwks: '\(keys)'\n  fromHeaders: [{name: x-jwt, prefix: 'Token '}]"),
            requestAuthentication(
                "a", "istio-system",
                "jwtRules:\n- issuer: https://a.example\n  audiences: [web]\n  jwksUri: https://a.example/keys\n  outputClaimToHeaders: [{header: x-sub, claim: sub}]\n  spaceDelimitedClaims: [roles]\n  forwardOriginalToken: true"
            ),
        ]).http
        #expect(filters.map(\.name).prefix(2) == [JWTAuthnFilter.name, "envoy.filters.http.fault"])
        let config = try jwt(filters)
        #expect(config.bypassCorsPreflight)
        let first = try #require(config.providers["origins-0"])
        #expect(first.issuer == "https://a.example" && first.audiences == ["web"] && first.forward)
        #expect(first.payloadInMetadata == "payload" && first.normalizePayloadInMetadata.spaceDelimitedClaims == ["permission", "roles", "scope"])
        #expect(first.claimToHeaders.map(\.headerName) == ["x-sub"])
        // Not fetched yet: a key set nobody can sign for.
        #expect(first.localJwks.inlineString == JWTAuthnFilter.unusableKeySet)
        let second = try #require(config.providers["origins-1"])
        #expect(second.issuer == "https://z.example" && second.localJwks.inlineString == keys)
        #expect(
            second.fromHeaders.map(\.valuePrefix) == ["Token "] && second.normalizePayloadInMetadata.spaceDelimitedClaims == ["permission", "scope"])
        // any[origins-0, origins-1, all[any[origins-0, missing], any[origins-1, missing]]]
        let requires = try #require(config.rules.first).requires
        #expect(config.rules.first?.match.prefix == "/")
        #expect(requires.requiresAny.requirements.count == 3)
        #expect(requires.requiresAny.requirements[0].providerName == "origins-0")
        #expect(
            requires.requiresAny.requirements[2].requiresAll.requirements.map { $0.requiresAny.requirements[1].allowMissing == .init() } == [
                true, true,
            ])
    }

    @Test func oneProviderMayBeMissingAndFetchedKeysAreInlined() throws {
        let filters = try inbound(
            [requestAuthentication("a", "default", "jwtRules:\n- issuer: i\n  jwksUri: http://127.0.0.1:1/k")],
            settings: settings(keySets: ["http://127.0.0.1:1/k": keys])
        ).http
        let config = try jwt(filters)
        #expect(config.providers["origins-0"]?.localJwks.inlineString == keys)
        let any = try #require(config.rules.first).requires.requiresAny.requirements
        #expect(any.count == 2 && any[0].providerName == "origins-0" && any[1].allowMissing == .init())
    }

    @Test func selectorsAndScopesDecideWhichWorkloadsVerify() throws {
        #expect(
            try inbound([requestAuthentication("a", "default", "selector: {matchLabels: {app: other}}\njwtRules:\n- issuer: i\n  jwks: '\(keys)'")])
                .http.allSatisfy { $0.name != JWTAuthnFilter.name })
        #expect(
            try inbound([requestAuthentication("a", "prod", "jwtRules:\n- issuer: i\n  jwks: '\(keys)'")]).http.allSatisfy {
                $0.name != JWTAuthnFilter.name
            })
        #expect(
            try inbound([
                requestAuthentication("a", "default", "selector: {matchLabels: {app: productpage}}\njwtRules:\n- issuer: i\n  jwks: '\(keys)'")
            ]).http.contains { $0.name == JWTAuthnFilter.name })
        // TCP chains have no request: no JWT there.
        #expect(
            try inbound([requestAuthentication("a", "default", "jwtRules:\n- issuer: i\n  jwks: '\(keys)'")]).tcp.map(\.name) == [
                "envoy.filters.network.tcp_proxy"
            ])
    }

    @Test(arguments: [
        ("jwtRules:\n- audiences: [a]", "spec.jwtRules[0]"),
        ("jwtRules:\n- issuer: i\n  jwksUri: ftp://x/k", "spec.jwtRules[0].jwksUri"),
        ("jwtRules:\n- issuer: i\n  jwks: '{\"keys\": 1}'", "spec.jwtRules[0].jwks"),
        ("jwtRules:\n- issuer: i\n  jwks: '{\"keys\":[{\"kty\":\"RSA\",\"n\":\"x\",\"e\":\"AQAB\",\"d\":\"y\"}]}'", "spec.jwtRules[0].jwks"),
        ("jwtRules:\n- issuer: https://i\n  outputClaimToHeaders: [{header: 'a b', claim: sub}]", "spec.jwtRules[0].outputClaimToHeaders[0].header"),
        ("jwtRules:\n- issuer: https://i\n  timeout: 0.0001s", "spec.jwtRules[0].timeout"),
        ("jwtRules:\n- issuer: https://i\n  fromHeaders: [{prefix: x}]", "spec.jwtRules[0].fromHeaders[0].name"),
        ("jwtRules:\n- issuer: https://i\n  bogus: 1", "spec.jwtRules[0].bogus"),
        // Without keys the issuer is where OpenID discovery looks: it must be a URL.
        ("jwtRules:\n- issuer: not-a-url", "spec.jwtRules[0].issuer"),
    ])
    func invalidRulesNameTheirField(_ spec: String, _ field: String) throws {
        let resource = try #require(try ConfigDocumentParser.parse(requestAuthentication("a", "default", spec)).first)
        #expect(throws: MeshModelError.self) { try ConfigValidator.validateForWrite(resource) }
        do { _ = try ConfigValidator.validateForWrite(resource) } catch { #expect(error.field == field) }
    }

    @Test func anIssuerAloneIsFoundByDiscovery() {
        #expect(
            RequestAuthentication.JWTRule(issuer: "https://login.example/").fetchedURI == "https://login.example/.well-known/openid-configuration")
        #expect(RequestAuthentication.JWTRule(issuer: "https://a", jwksUri: "https://a/k").fetchedURI == "https://a/k")
        #expect(RequestAuthentication.JWTRule(issuer: "https://a", jwksUri: "https://a/k", jwks: keys).fetchedURI == nil)
    }

    @Test func proxylessServersAreToldTheyVerifyNoJWT() throws {
        let resource = try #require(
            try ConfigDocumentParser.parse(requestAuthentication("a", "default", "jwtRules:\n- issuer: i\n  jwks: '\(keys)'")).first)
        let limits = try ConfigValidator.validateForWrite(resource).clientLimits
        #expect(limits.map(\.path) == ["spec.jwtRules"] && limits.flatMap(\.kinds) == [.proxylessGRPC])
    }

    @Test func customRunsFirstThenJWTThenRBAC() throws {
        let filters = try inbound(
            [
                authorizationPolicy("ext", "default", "action: CUSTOM\nprovider: {name: opa}\nrules:\n- to:\n  - operation: {paths: [/admin*]}"),
                authorizationPolicy("req", "default", "rules:\n- from:\n  - source: {requestPrincipals: ['*']}"),
                requestAuthentication("a", "default", "jwtRules:\n- issuer: i\n  jwks: '\(keys)'"),
            ], settings: settings())
        #expect(
            filters.http.map(\.name) == [
                "envoy.filters.http.rbac", "envoy.filters.http.ext_authz", JWTAuthnFilter.name, "envoy.filters.http.rbac.allow",
                "envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.router",
            ])
        let ext = try Envoy_Extensions_Filters_Http_ExtAuthz_V3_ExtAuthz(serializedBytes: filters.http[1].typedConfig.value)
        #expect(ext.httpService.serverUri.cluster == "outbound|8181||opa.default.svc.cluster.local")
        #expect(ext.httpService.pathPrefix == "/check" && ext.statusOnError.code.rawValue == 503 && ext.transportApiVersion == .v3)
        #expect(ext.allowedHeaders.patterns.map(\.prefix) == ["", "x-"] && ext.allowedHeaders.patterns.allSatisfy(\.ignoreCase))
        #expect(ext.filterEnabledMetadata.filter == "envoy.filters.http.rbac")
        #expect(ext.filterEnabledMetadata.path.map(\.key) == ["istio_ext_authz_shadow_effective_policy_id"])
        #expect(ext.filterEnabledMetadata.value.stringMatch.prefix == "istio-ext-authz-opa")
        let shadow = try Envoy_Extensions_Filters_Http_Rbac_V3_RBAC(serializedBytes: filters.http[0].typedConfig.value)
        #expect(!shadow.hasRules && shadow.shadowRules.action == .deny && shadow.shadowRulesStatPrefix == "istio_ext_authz_")
        #expect(Array(shadow.shadowRules.policies.keys) == ["istio-ext-authz-opa-ns[default]-policy[ext]-rule[0]"])
        // An HTTP authorizer cannot check TCP connections: there the selected ones are denied.
        // (The rule names a path, which a TCP connection lacks: DENY semantics widen it to all.)
        // (The ALLOW policy needs a request principal, which TCP lacks: it allows nothing there.)
        #expect(
            filters.tcp.map(\.name) == [
                "envoy.filters.network.rbac.custom-deny.opa", "envoy.filters.network.rbac.allow", "envoy.filters.network.tcp_proxy",
            ])
    }

    /// Which requests the external authorizer is asked about: those the CUSTOM rules select.
    @Test(arguments: [
        ("GET", "/admin/users", true), ("GET", "/admin", true), ("GET", "/public", false), ("POST", "/public", true),
    ])
    func extAuthzRunsExactlyForTheSelectedRequests(_ method: String, _ path: String, _ asked: Bool) throws {
        let filters = try inbound(
            [
                authorizationPolicy(
                    "ext", "default",
                    "action: CUSTOM\nprovider: {name: opa}\nrules:\n- to:\n  - operation: {paths: [/admin*]}\n- to:\n  - operation: {methods: [POST]}"
                )
            ],
            settings: settings())
        let shadow = try Envoy_Extensions_Filters_Http_Rbac_V3_RBAC(serializedBytes: filters.http[0].typedConfig.value)
        let ext = try Envoy_Extensions_Filters_Http_ExtAuthz_V3_ExtAuthz(serializedBytes: filters.http[1].typedConfig.value)
        let request = SimulatedRequest(authority: "productpage:9080", path: path, headers: [:], method: method)
        let context = RBACContext(principal: nil, sourceAddress: "10.0.9.9", destinationAddress: "10.0.0.5", destinationPort: 9081, request: request)
        let matched: String? = if case .denied(let name) = RBACEvaluation.verdict(shadow.shadowRules, context) { name } else { nil }
        let enabled = matched.map { $0.hasPrefix(ext.filterEnabledMetadata.value.stringMatch.prefix) } ?? false
        #expect(enabled == asked)
    }

    @Test func aGRPCAuthorizerChecksTCPConnectionsToo() throws {
        let filters = try inbound(
            [authorizationPolicy("ext", "default", "action: CUSTOM\nprovider: {name: opa-grpc}\nrules:\n- to:\n  - operation: {ports: ['9000']}")],
            settings: settings())
        #expect(filters.tcp.map(\.name) == ["envoy.filters.network.rbac", "envoy.filters.network.ext_authz", "envoy.filters.network.tcp_proxy"])
        let ext = try Envoy_Extensions_Filters_Network_ExtAuthz_V3_ExtAuthz(serializedBytes: filters.tcp[1].typedConfig.value)
        #expect(ext.grpcService.envoyGrpc.clusterName == "outbound|9191||opa.default.svc.cluster.local")
        #expect(ext.grpcService.timeout.nanos == 500_000_000 && ext.failureModeAllow && ext.statPrefix == "tcp.")
        #expect(ext.filterEnabledMetadata.filter == "envoy.filters.network.rbac")
    }

    @Test func anUnknownProviderDeniesWhatItsRulesSelectAndIsWarned() throws {
        let spec = "action: CUSTOM\nprovider: {name: nobody}\nrules:\n- to:\n  - operation: {paths: [/admin]}"
        let filters = try inbound([authorizationPolicy("ext", "default", spec)], settings: settings())
        #expect(filters.http.first?.name == "envoy.filters.http.rbac.custom-deny.nobody")
        let deny = try Envoy_Extensions_Filters_Http_Rbac_V3_RBAC(serializedBytes: filters.http[0].typedConfig.value)
        #expect(
            deny.rules.action == .deny
                && Array(deny.rules.policies.keys) == ["istio-ext-authz-nobody-ns[default]-policy[ext]-rule[0]-deny-due-to-bad-CUSTOM-action"])
        let push = try context([EnvoyFixture.mesh, authorizationPolicy("ext", "default", spec)], settings: settings())
        #expect(
            push.warnings.contains {
                $0.key.name == "ext" && $0.field == "spec.provider.name" && $0.message.contains("no extension provider \"nobody\"")
            })
    }

    @Test func gatewaysGetTheSameFiltersByTheirPodsLabels() throws {
        let gateway = """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: edge, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["*"]}, {port: {number: 9443, name: tls, protocol: TLS}, hosts: ["*"], tls: {mode: PASSTHROUGH}}]
            """
        let push = try context(
            [
                EnvoyFixture.mesh, opaService, gateway,
                requestAuthentication(
                    "edge", "istio-system", "selector: {matchLabels: {istio: ingressgateway}}\njwtRules:\n- issuer: i\n  jwks: '\(keys)'"),
                authorizationPolicy(
                    "edge", "istio-system",
                    "selector: {matchLabels: {istio: ingressgateway}}\naction: DENY\nrules:\n- to:\n  - operation: {paths: [/private]}"),
            ], settings: settings())
        let proxy = Proxy(
            id: "router~10.0.0.9~edge-1.istio-system~istio-system.svc.cluster.local", kind: .gateway, namespace: "istio-system",
            labels: ["istio": "ingressgateway"])
        let envoy = try EnvoySnapshot(push, proxy: proxy)
        let listener = try #require(envoy.listeners["0.0.0.0_8080"])
        let manager = try Manager(serializedBytes: listener.filterChains[0].filters[0].typedConfig.value)
        #expect(manager.httpFilters.map(\.name).prefix(2) == [JWTAuthnFilter.name, "envoy.filters.http.rbac.deny"])
        // Gateways clear the route cache after verification, so routes can match claims.
        #expect(try jwt(manager.httpFilters).providers["origins-0"]?.clearRouteCache_p == true)
        // A gateway without the label gets nothing.
        let other = Proxy(
            id: "router~10.0.0.8~edge-2.istio-system~istio-system.svc.cluster.local", kind: .gateway, namespace: "istio-system",
            labels: ["istio": "other", "app": "x"])
        #expect(try EnvoySnapshot(push, proxy: other).listeners["0.0.0.0_8080"] == nil)
    }

    @Test func aProxylessServerDeniesWhatACustomPolicySelects() throws {
        let push = try context([
            authorizationPolicy("ext", "default", "action: CUSTOM\nprovider: {name: opa}\nrules:\n- to:\n  - operation: {paths: [/admin]}"),
            authorizationPolicy("d", "default", "action: DENY\nrules:\n- from:\n  - source: {namespaces: [x]}"),
        ])
        let policies = push.authorizationPolicies.policies(namespace: "default", labels: [:], rootNamespace: push.settings.rootNamespace)
        let deny = try #require(AuthorizationFilters.byAction(policies, target: .grpc).first { $0.0 == .deny }?.1)
        #expect(deny.policies.keys.sorted() == ["ns[default]-policy[d]-rule[0]", "ns[default]-policy[ext]-rule[0]"])
        // Envoy's RBAC filters leave CUSTOM to the ext_authz pair.
        #expect(AuthorizationFilters.byAction(policies, target: .envoyHTTP).first { $0.0 == .deny }?.1.policies.count == 1)
    }

    @Test func authzCheckListsIssuersAndWhereCustomRulesGo() throws {
        let push = try context(
            [
                EnvoyFixture.mesh, opaService,
                authorizationPolicy("ext", "default", "action: CUSTOM\nprovider: {name: opa}\nrules:\n- to:\n  - operation: {paths: [/admin]}"),
                requestAuthentication("a", "default", "jwtRules:\n- issuer: https://login.example\n  jwks: '\(keys)'"),
            ], settings: settings())
        let check = AuthorizationCheck(proxy: workload, push: push)
        #expect(check.requestAuthentications.map(\.issuers) == [["https://login.example"]])
        #expect(
            check.customRules(http: true) == [
                "opa -> outbound|8181||opa.default.svc.cluster.local: istio-ext-authz-opa-ns[default]-policy[ext]-rule[0]: any -> path:exact:/admin"
            ])
        #expect(
            check.customRules(http: false) == [
                "opa (denied): istio-ext-authz-opa-ns[default]-policy[ext]-rule[0]-deny-due-to-bad-CUSTOM-action: any -> any"
            ])
    }

    @Test func newSettingsAreNotServedFromTheOldSnapshot() async throws {
        let push = try context([EnvoyFixture.mesh, requestAuthentication("a", "default", "jwtRules:\n- issuer: i\n  jwksUri: http://127.0.0.1:1/k")])
        let cache = SnapshotCache(generators: .testing)
        let before = await cache.snapshot(for: workload, push: push)
        var fetched = push.settings
        fetched.fetchedKeySets["http://127.0.0.1:1/k"] = keys
        fetched.generation += 1
        let after = await cache.snapshot(for: workload, push: push.replacingSettings(fetched))
        #expect(before.revision == after.revision)
        #expect(before.of(TypeURL.listener)["virtualInbound"] != after.of(TypeURL.listener)["virtualInbound"])
        #expect(cache.generations == 2)
    }
}

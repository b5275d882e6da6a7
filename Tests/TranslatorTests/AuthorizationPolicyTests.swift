import EnvoyAPI
import MeshModel
import Testing

@testable import Translator

/// An AuthorizationPolicy `name` in `namespace` with `spec` (YAML lines indented by two).
func authorizationPolicy(_ name: String, _ namespace: String, _ spec: String) -> String {
    """
    apiVersion: security.istio.io/v1
    kind: AuthorizationPolicy
    metadata: {name: \(name), namespace: \(namespace)}
    spec:
    \(spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
    """
}

@Suite("AuthorizationPolicy to RBAC")
struct AuthorizationPolicyTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var spec: String
        /// The DENY filter's then the ALLOW filter's lines; nil: no such filter.
        var deny: [String]?
        var allow: [String]?
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "ALLOW a principal", spec: "rules:\n- from:\n  - source: {principals: [cluster.local/ns/a/sa/x]}",
            allow: ["ns[shop]-policy[p]-rule[0]: authn:exact:spiffe://cluster.local/ns/a/sa/x -> any"]),
        Case(
            name: "absent from matches every source", spec: "rules:\n- to:\n  - operation: {paths: [/pkg.Svc/Get]}",
            allow: ["ns[shop]-policy[p]-rule[0]: any -> path:exact:/pkg.Svc/Get"]),
        Case(
            name: "notPaths, prefix and suffix", spec: "rules:\n- to:\n  - operation: {notPaths: [/admin.*, '*/Delete']}",
            allow: ["ns[shop]-policy[p]-rule[0]: any -> not(or(path:prefix:/admin.,path:suffix:/Delete))"]),
        Case(
            name: "several values: any; several fields: all; several entries: any",
            spec:
                "rules:\n- from:\n  - source: {principals: ['cluster.local/ns/a/sa/x', 'cluster.local/ns/a/sa/y'], notNamespaces: [b]}\n  - source: {ipBlocks: [10.0.0.0/8]}\n  to:\n  - operation: {ports: ['50051'], methods: [POST]}",
            allow: [
                "ns[shop]-policy[p]-rule[0]: and(or(authn:exact:spiffe://cluster.local/ns/a/sa/x,authn:exact:spiffe://cluster.local/ns/a/sa/y),not(authn:regex:.*/ns/b/.*)) | ip:10.0.0.0/8 -> and(port:50051,header::method=exact:POST)"
            ]),
        Case(
            name: "principal wildcards", spec: "rules:\n- from:\n  - source: {principals: ['*', 'cluster.local/ns/a/*', '*/sa/x']}",
            allow: ["ns[shop]-policy[p]-rule[0]: or(authn:regex:.+,authn:prefix:spiffe://cluster.local/ns/a/,authn:suffix:/sa/x) -> any"]),
        Case(
            name: "DENY a principal", spec: "action: DENY\nrules:\n- from:\n  - source: {principals: [cluster.local/ns/a/sa/x]}",
            deny: ["ns[shop]-policy[p]-rule[0]: authn:exact:spiffe://cluster.local/ns/a/sa/x -> any"]),
        Case(
            name: "DENY gRPC cannot check matches without it",
            spec: "action: DENY\nrules:\n- from:\n  - source: {requestPrincipals: ['*']}\n  to:\n  - operation: {paths: [/x]}",
            deny: ["ns[shop]-policy[p]-rule[0]: any -> path:exact:/x"]),
        Case(
            name: "DENY when request.auth.claims is ignored, other conditions kept",
            spec: "action: DENY\nrules:\n- when:\n  - {key: 'request.auth.claims[iss]', values: [x]}\n  - {key: source.namespace, values: [b]}",
            deny: ["ns[shop]-policy[p]-rule[0]: authn:regex:.*/ns/b/.* -> any"]),
        Case(
            name: "ALLOW gRPC cannot check is dropped (allows nothing)",
            spec: "rules:\n- from:\n  - source: {requestPrincipals: ['*']}\n- when:\n  - {key: request.auth.principal, values: [x]}",
            allow: []),
        Case(name: "ALLOW without rules allows nothing", spec: "action: ALLOW", allow: []),
        Case(name: "an empty rule allows everything", spec: "rules:\n- {}", allow: ["ns[shop]-policy[p]-rule[0]: any -> any"]),
        Case(name: "DENY without rules denies nothing", spec: "action: DENY", deny: []),
        Case(name: "AUDIT adds no filter", spec: "action: AUDIT\nrules:\n- {}"),
        Case(
            name: "when on headers, ports and notValues",
            spec: "rules:\n- when:\n  - {key: 'request.headers[x-user]', values: [alice]}\n  - {key: destination.port, notValues: ['9000']}",
            allow: ["ns[shop]-policy[p]-rule[0]: header:x-user=exact:alice -> not(port:9000)"]),
    ]

    static func filters(_ texts: [String], namespace: String = "shop", labels: [String: String] = ["app": "reviews"]) throws
        -> (deny: [String]?, allow: [String]?)
    {
        let push = try context(texts)
        let policies = push.authorizationPolicies.policies(namespace: namespace, labels: labels, rootNamespace: push.settings.rootNamespace)
        var result: (deny: [String]?, allow: [String]?) = (nil, nil)
        for filter in AuthorizationFilters.filters(policies) {
            let config = try Envoy_Extensions_Filters_Http_Rbac_V3_RBAC(serializedBytes: filter.typedConfig.value)
            if config.rules.action == .deny {
                #expect(result.allow == nil, "the DENY filter comes first")
                result.deny = RBACDescription.lines(config.rules)
            } else {
                result.allow = RBACDescription.lines(config.rules)
            }
        }
        return result
    }

    @Test(arguments: cases)
    func translation(_ test: Case) throws {
        let result = try Self.filters([authorizationPolicy("p", "shop", test.spec)])
        #expect(result.deny == test.deny)
        #expect(result.allow == test.allow)
    }

    @Test func scope() throws {
        let policies = [
            authorizationPolicy("mesh", "istio-system", "action: DENY\nrules:\n- from:\n  - source: {namespaces: [evil]}"),
            authorizationPolicy("mesh-reviews", "istio-system", "selector: {matchLabels: {app: reviews}}\nrules:\n- {}"),
            authorizationPolicy("other-ns", "other", "action: DENY\nrules:\n- {}"),
            authorizationPolicy("ratings-only", "shop", "selector: {matchLabels: {app: ratings}}\naction: DENY\nrules:\n- {}"),
        ]
        let reviews = try Self.filters(policies)
        #expect(reviews.deny == ["ns[istio-system]-policy[mesh]-rule[0]: authn:regex:.*/ns/evil/.* -> any"])
        #expect(reviews.allow == ["ns[istio-system]-policy[mesh-reviews]-rule[0]: any -> any"])
        let ratings = try Self.filters(policies, labels: ["app": "ratings"])
        #expect(ratings.deny?.count == 2 && ratings.allow == nil)
    }

    @Test(arguments: [
        ("rules:\n- from: []", "spec.rules[0].from"),
        ("rules:\n- from:\n  - source: {}", "spec.rules[0].from[0].source"),
        ("rules:\n- to:\n  - operation: {ports: ['0']}", "spec.rules[0].to[0].operation.ports[0]"),
        ("rules:\n- from:\n  - source: {ipBlocks: [not-an-ip]}", "spec.rules[0].from[0].source.ipBlocks[0]"),
        ("rules:\n- when:\n  - {key: source.nothing, values: [x]}", "spec.rules[0].when[0].key"),
        ("rules:\n- when:\n  - {key: source.ip}", "spec.rules[0].when[0]"),
        ("action: CUSTOM\nrules:\n- {}", "spec.provider"),
        ("action: CUSTOM\nprovider: {name: x}", "spec.rules"),
        ("action: CUSTOM\nprovider: {name: x}\nrules:\n- from:\n  - source: {namespaces: [a]}", "spec.rules[0].from[0].source.namespaces"),
        ("action: CUSTOM\nprovider: {name: x}\nrules:\n- when:\n  - {key: 'request.auth.claims[a]', values: [b]}", "spec.rules[0].when[0].key"),
        ("action: DENY\nprovider: {name: x}\nrules:\n- {}", "spec.provider"),
        ("rules:\n- from:\n  - source: {principals: ['']}", "spec.rules[0].from[0].source.principals[0]"),
    ])
    func invalid(_ spec: String, _ field: String) throws {
        let resource = try #require(try ConfigDocumentParser.parse(authorizationPolicy("p", "shop", spec)).first)
        do {
            _ = try ConfigValidator.validate(resource)
            Issue.record("accepted: \(spec)")
        } catch {
            #expect(error.field == field)
        }
    }

    @Test func advisoriesNameWhatGRPCCannotCheck() throws {
        let push = try context([
            authorizationPolicy(
                "p", "shop", "rules:\n- from:\n  - source: {requestPrincipals: ['*']}\n  when:\n  - {key: 'request.auth.claims[iss]', values: [x]}")
        ])
        let fields = push.warnings.filter { $0.key.name == "p" }.map(\.field)
        #expect(fields == ["spec.rules[0].from[0].source.requestPrincipals", "spec.rules[0].when[0].key"])
        #expect(push.warnings.allSatisfy { !$0.message.isEmpty })
        let audit = try #require(try ConfigDocumentParser.parse(authorizationPolicy("a", "shop", "action: AUDIT\nrules:\n- {}")).first)
        let limits = try ConfigValidator.validateForWrite(audit).clientLimits
        // gRPC servers have no audit log; Envoy sidecars and gateways log matches.
        #expect(Set(limits.map(\.path)) == ["spec.action"])
        #expect(Set(limits.flatMap(\.kinds)) == [.proxylessGRPC])
    }

    @Test func aDenyWithRequestFieldsIsWarnedForTCPPorts() throws {
        let push = try context([
            authorizationPolicy(
                "d", "shop",
                "action: DENY\nrules:\n- from:\n  - source: {namespaces: [x]}\n  to:\n  - operation: {ports: ['80']}\n  - operation: {paths: [/admin]}\n- when:\n  - {key: 'request.headers[x-a]', values: [b]}\n- to:\n  - operation: {ports: ['9000']}"
            ),
            authorizationPolicy("a", "shop", "rules:\n- to:\n  - operation: {paths: [/admin]}"),
        ])
        let denied = push.warnings.filter { $0.key.name == "d" }
        #expect(denied.map(\.field) == ["spec.rules[0].to[1].operation.paths", "spec.rules[1].when[0].key"])
        #expect(denied.allSatisfy { $0.message.contains("TCP ports") })
        // An ALLOW rule that needs a request simply never matches a TCP connection: nothing to warn.
        #expect(push.warnings.filter { $0.key.name == "a" }.isEmpty)
    }

    @Test func inboundListenerFilterOrder() throws {
        let push = try context([
            authorizationPolicy("deny", "shop", "action: DENY\nrules:\n- from:\n  - source: {principals: [cluster.local/ns/a/sa/x]}"),
            authorizationPolicy("allow", "shop", "selector: {matchLabels: {app: reviews}}\nrules:\n- to:\n  - operation: {paths: [/a]}"),
        ])
        var proxy = Proxy(id: "server", namespace: "shop", labels: ["app": "reviews"])
        proxy.inbound = [try #require(InboundAddress(listenerName: InboundAddress.listenerNamePrefix + "0.0.0.0:50051"))]
        #expect(push.viewKey(for: proxy).policyLabels == ["app": "reviews"])
        let resource = try #require(GeneratorTable.testing.resources(TypeURL.listener, for: proxy, in: push).first)
        let listener = try Envoy_Config_Listener_V3_Listener(serializedBytes: resource.payload.value)
        let manager = try Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager(
            serializedBytes: listener.filterChains[0].filters[0].typedConfig.value)
        #expect(manager.httpFilters.map(\.name) == ["envoy.filters.http.rbac.deny", "envoy.filters.http.rbac.allow", HTTPFilters.routerName])
    }
}

@Suite("meshctl x authz check's model")
struct AuthorizationCheckTests {
    /// `reviews-1` in `shop`, serving reviews' HTTP port 9080 on 50051.
    static let workload = [
        serviceEntry("reviews", "shop", ports: [9080]).replacingOccurrences(
            of: "  ports:", with: "  workloadSelector: {labels: {app: reviews}}\n  ports:"),
        """
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: reviews-1, namespace: shop}
        spec: {address: 127.0.0.1, ports: {p9080: 50051}, labels: {app: reviews}}
        """,
    ]

    @Test func aWorkloadsModesPoliciesAndRules() throws {
        let push = try context(
            Self.workload + [
                peerAuthentication("ns", "shop", "mtls: {mode: STRICT}"),
                authorizationPolicy("deny", "shop", "action: DENY\nrules:\n- from:\n  - source: {principals: [cluster.local/ns/a/sa/x]}"),
            ])
        let check = try #require(AuthorizationCheck(workload: ConfigKey(kind: .workloadEntry, namespace: "shop", name: "reviews-1"), push: push))
        #expect(check.ports.map(\.port) == [50051])
        #expect(check.ports.first?.mode == .strict)
        #expect(check.ports.first?.policies.map(\.name) == ["ns"])
        #expect(check.policies.map(\.key.name) == ["deny"])
        #expect(check.deny == ["ns[shop]-policy[deny]-rule[0]: authn:exact:spiffe://cluster.local/ns/a/sa/x -> any"])
        #expect(check.allow == nil)
        #expect(AuthorizationCheck(workload: ConfigKey(kind: .workloadEntry, namespace: "shop", name: "nobody"), push: push) == nil)
    }

    @Test func aConnectedSidecarByItsOwnLabelsAndPorts() throws {
        let push = try context(
            Self.workload + [
                peerAuthentication("canary", "shop", "selector: {matchLabels: {track: canary}}\nmtls: {mode: DISABLE}"),
                authorizationPolicy("canary", "shop", "selector: {matchLabels: {track: canary}}\naction: DENY\nrules:\n- {}"),
            ])
        // The sidecar of reviews-1 (127.0.0.1), whose own labels add `track: canary`.
        let proxy = Proxy(
            id: "sidecar~127.0.0.1~reviews-1.shop~shop.svc.cluster.local", kind: .sidecar, namespace: "shop",
            labels: ["app": "reviews", "track": "canary"], instanceIPs: ["127.0.0.1"])
        let check = AuthorizationCheck(proxy: proxy, push: push)
        #expect(check.proxyID == proxy.id && check.workload == nil)
        #expect(check.ports.map(\.port) == [50051] && check.ports.map(\.carriage) == ["HTTP"])
        #expect(check.ports.map(\.mode) == [.disable] && check.workloadMode == .disable)
        #expect(check.rules(.envoyTCP).map(\.action) == [.deny])
        // By its WorkloadEntry (no `track` label) neither policy applies.
        let byEntry = try #require(AuthorizationCheck(workload: ConfigKey(kind: .workloadEntry, namespace: "shop", name: "reviews-1"), push: push))
        #expect(byEntry.workloadMode == .permissive && byEntry.policies.isEmpty)
    }

    @Test func anEnvoySidecarsPortsAndRulesPerChainKind() throws {
        let push = try context(
            Self.workload + [
                peerAuthentication("ns", "shop", "mtls: {mode: STRICT}"),
                peerAuthentication(
                    "w", "shop", "selector: {matchLabels: {app: reviews}}\nportLevelMtls:\n  50051: {mode: PERMISSIVE}\n  7000: {mode: DISABLE}"),
                authorizationPolicy("audit", "shop", "action: AUDIT\nrules:\n- {}"),
                authorizationPolicy("allow", "shop", "rules:\n- to:\n  - operation: {methods: [GET]}\n- to:\n  - operation: {ports: ['50051']}"),
            ])
        let check = try #require(AuthorizationCheck(workload: ConfigKey(kind: .workloadEntry, namespace: "shop", name: "reviews-1"), push: push))
        #expect(check.ports.map(\.port) == [50051, 7000])
        #expect(check.ports.map(\.mode) == [.permissive, .disable])
        #expect(check.ports.map(\.declared) == [true, false])
        #expect(check.ports.map(\.carriage) == ["HTTP", "AUTO"])
        #expect(check.workloadMode == .strict && check.workloadPolicies.map(\.name) == ["w", "ns"])
        // gRPC has no audit log; Envoy's TCP chains lose the HTTP-only rule.
        #expect(check.rules(.grpc).map(\.action) == [.allow])
        #expect(check.rules(.envoyHTTP).map(\.action) == [.audit, .allow])
        #expect(check.rules(.envoyHTTP).last?.lines.count == 2)
        #expect(check.rules(.envoyTCP).last?.lines == ["ns[shop]-policy[allow]-rule[1]: any -> port:50051"])
    }
}

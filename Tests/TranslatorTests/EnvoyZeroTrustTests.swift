import EnvoyAPI
import MeshModel
import MeshTesting
import PushPipeline
import Testing
import Translator

/// The sidecar of productpage's `app-1` (10.0.0.5: HTTP 9081, TCP 9000), labelled as its workload.
private let workload = Proxy(id: EnvoyFixture.nodeID, kind: .sidecar, labels: ["app": "productpage"], instanceIPs: ["10.0.0.5"])
private let reviews = "spiffe://cluster.local/ns/default/sa/reviews"
private let stranger = "spiffe://cluster.local/ns/other/sa/bot"

/// An HTTP request to the workload.
private func get(_ path: String = "/", method: String = "GET", headers: [String: String] = [:]) -> SimulatedRequest {
    SimulatedRequest(authority: "productpage:9080", path: path, headers: headers, method: method)
}

/// The simulation of `workload`'s sidecar with `configs` beside EnvoyFixture's mesh.
private func sidecar(_ configs: [String]) throws -> TrafficSimulation {
    let push = try context([EnvoyFixture.mesh] + configs)
    let snapshot = ProxySnapshot(proxy: workload, push: push, table: .testing)
    #expect(EnvoyInvariants.violations(in: snapshot) == [])
    return try TrafficSimulation(snapshot: snapshot)
}

private func mode(_ mode: String, namespace: String = "default") -> String {
    peerAuthentication("mode", namespace, "mtls: {mode: \(mode)}")
}

/// One connection to the workload and what its sidecar does with it.
struct InboundCase: Sendable, CustomTestStringConvertible {
    var configs: [String]
    var connection: SimulatedConnection
    var outcome: SimulatedOutcome
    /// Whether the chain that took it terminated mesh mTLS (nil: no chain).
    var mutualTLS: Bool?
    var testDescription: String { "\(configs.map { $0.split(separator: "\n").last ?? "" }) \(connection)" }
}

private let http9081 = SimulatedOutcome.cluster("inbound|9081||", endpoints: ["127.0.0.1:9081"])
private let tcp9000 = SimulatedOutcome.cluster("inbound|9000||", endpoints: ["127.0.0.1:9000"])
private let passthrough7777 = SimulatedOutcome.cluster("InboundPassthroughCluster", endpoints: ["10.0.0.5:7777"])

@Suite("Zero trust on Envoy sidecars: chains by mode, RBAC, auto mTLS")
struct EnvoyZeroTrustTests {
    static let modes: [InboundCase] = [
        // No policy: PERMISSIVE. Mesh clients in mTLS, others in plaintext, on every port.
        .init(configs: [], connection: .mesh(reviews, port: 9081, request: get()), outcome: http9081, mutualTLS: true),
        .init(configs: [], connection: .plaintext(port: 9081, request: get()), outcome: http9081, mutualTLS: false),
        .init(configs: [], connection: .mesh(reviews, port: 9000), outcome: tcp9000, mutualTLS: true),
        .init(configs: [], connection: .plaintext(port: 9000), outcome: tcp9000, mutualTLS: false),
        // The application's own TLS on a TCP port is passed through, not terminated.
        .init(
            configs: [], connection: .init(.inbound, address: "10.0.0.5", port: 9000, serverName: "db.example.com", alpn: ["h2"]),
            outcome: tcp9000, mutualTLS: false),
        // ...but an HTTP port has no such chain: closed.
        .init(
            configs: [], connection: .init(.inbound, address: "10.0.0.5", port: 9081, serverName: "x.example.com", alpn: ["h2"]),
            outcome: .noFilterChain("virtualInbound"), mutualTLS: nil),
        .init(configs: [], connection: .plaintext(port: 7777, request: get()), outcome: passthrough7777, mutualTLS: false),
        .init(configs: [], connection: .mesh(reviews, port: 7777), outcome: passthrough7777, mutualTLS: true),
        // A connection to 15006 itself is a loop: dropped.
        .init(configs: [], connection: .plaintext(port: 15006), outcome: .cluster("BlackHoleCluster", endpoints: []), mutualTLS: false),

        // STRICT (namespace): mTLS only; plaintext is closed on declared and undeclared ports.
        .init(configs: [mode("STRICT")], connection: .mesh(reviews, port: 9081, request: get()), outcome: http9081, mutualTLS: true),
        .init(configs: [mode("STRICT")], connection: .plaintext(port: 9081, request: get()), outcome: .noFilterChain("virtualInbound")),
        .init(configs: [mode("STRICT")], connection: .plaintext(port: 9000), outcome: .noFilterChain("virtualInbound")),
        .init(configs: [mode("STRICT")], connection: .plaintext(port: 7777, request: get()), outcome: .noFilterChain("virtualInbound")),
        .init(configs: [mode("STRICT")], connection: .mesh(reviews, port: 7777), outcome: passthrough7777, mutualTLS: true),
        // TLS without a client certificate fails the handshake.
        .init(
            configs: [mode("STRICT")], connection: .init(.inbound, address: "10.0.0.5", port: 9000, serverName: "x", alpn: ["istio"]),
            outcome: .handshakeFailed("no client certificate"), mutualTLS: true),
        // An identity of another trust domain is not accepted.
        .init(
            configs: [mode("STRICT")], connection: .mesh("spiffe://evil.example/ns/default/sa/x", port: 9000),
            outcome: .handshakeFailed("client identity spiffe://evil.example/ns/default/sa/x not accepted"), mutualTLS: true),
        // The mesh policy applies when the namespace has none; the namespace's wins over it.
        .init(configs: [mode("STRICT", namespace: "istio-system")], connection: .plaintext(port: 9000), outcome: .noFilterChain("virtualInbound")),
        .init(
            configs: [mode("STRICT", namespace: "istio-system"), mode("PERMISSIVE")], connection: .plaintext(port: 9000), outcome: tcp9000,
            mutualTLS: false),

        // DISABLE: plaintext only. No chain needs the TLS inspector, so none runs: a mesh
        // client's ClientHello is bytes to the plaintext chain, handed to the workload as they
        // are (its handshake then fails there; auto mTLS sends such endpoints plaintext).
        .init(configs: [mode("DISABLE")], connection: .plaintext(port: 9081, request: get()), outcome: http9081, mutualTLS: false),
        .init(configs: [mode("DISABLE")], connection: .mesh(reviews, port: 9000), outcome: tcp9000, mutualTLS: false),

        // A workload policy: STRICT, with 9000 in plaintext and an undeclared 7000 STRICT too.
        .init(
            configs: [
                mode("DISABLE"),
                peerAuthentication(
                    "pp", "default",
                    "selector: {matchLabels: {app: productpage}}\nmtls: {mode: STRICT}\nportLevelMtls:\n  9000: {mode: DISABLE}\n  7000: {mode: STRICT}"
                ),
            ], connection: .plaintext(port: 9000), outcome: tcp9000, mutualTLS: false),
        .init(
            configs: [
                peerAuthentication(
                    "pp", "default",
                    "selector: {matchLabels: {app: productpage}}\nmtls: {mode: STRICT}\nportLevelMtls:\n  9000: {mode: DISABLE}\n  7000: {mode: PERMISSIVE}"
                )
            ], connection: .plaintext(port: 9081, request: get()), outcome: .noFilterChain("virtualInbound")),
        .init(
            configs: [
                peerAuthentication(
                    "pp", "default",
                    "selector: {matchLabels: {app: productpage}}\nmtls: {mode: STRICT}\nportLevelMtls:\n  9000: {mode: DISABLE}\n  7000: {mode: PERMISSIVE}"
                )
            ], connection: .plaintext(port: 7000), outcome: .cluster("InboundPassthroughCluster", endpoints: ["10.0.0.5:7000"]),
            mutualTLS: false),
        .init(
            configs: [
                peerAuthentication(
                    "pp", "default",
                    "selector: {matchLabels: {app: productpage}}\nmtls: {mode: STRICT}\nportLevelMtls:\n  9000: {mode: DISABLE}\n  7000: {mode: PERMISSIVE}"
                )
            ], connection: .plaintext(port: 7001), outcome: .noFilterChain("virtualInbound")),
        // A STRICT port under a PERMISSIVE workload: plaintext to it is closed, never handed to
        // the port-less plaintext passthrough chains (Envoy does not fall back across ports)...
        .init(
            configs: [peerAuthentication("pp", "default", "selector: {matchLabels: {app: productpage}}\nportLevelMtls:\n  9081: {mode: STRICT}")],
            connection: .plaintext(port: 9081, request: get()), outcome: .noFilterChain("virtualInbound")),
        // ...while the other ports keep taking plaintext.
        .init(
            configs: [peerAuthentication("pp", "default", "selector: {matchLabels: {app: productpage}}\nportLevelMtls:\n  9081: {mode: STRICT}")],
            connection: .plaintext(port: 9000), outcome: tcp9000, mutualTLS: false),
        .init(
            configs: [peerAuthentication("pp", "default", "selector: {matchLabels: {app: productpage}}\nportLevelMtls:\n  9081: {mode: STRICT}")],
            connection: .plaintext(port: 7777), outcome: passthrough7777, mutualTLS: false),
        // A selector naming other labels does not apply.
        .init(
            configs: [peerAuthentication("other", "default", "selector: {matchLabels: {app: ratings}}\nmtls: {mode: STRICT}")],
            connection: .plaintext(port: 9000), outcome: tcp9000, mutualTLS: false),
    ]

    @Test(arguments: modes)
    func chainSelectionByMode(_ row: InboundCase) throws {
        let result = try sidecar(row.configs).connect(row.connection)
        #expect(result.outcome == row.outcome)
        if let mutualTLS = row.mutualTLS {
            #expect(result.terminatedTLS == mutualTLS, "chain \(result.filterChain ?? "none")")
        } else {
            #expect(result.filterChain == nil)
        }
    }

    static let authorization: [InboundCase] = {
        let allowReviewsGet = authorizationPolicy(
            "allow", "default",
            "selector: {matchLabels: {app: productpage}}\nrules:\n- from:\n  - source: {principals: [cluster.local/ns/default/sa/reviews]}\n  to:\n  - operation: {methods: [GET], paths: ['/api/*', '/items/{*}/view'], notPaths: ['/api/admin*']}"
        )
        let denyHeader = authorizationPolicy(
            "deny", "default", "action: DENY\nrules:\n- when:\n  - {key: 'request.headers[x-block]', values: ['yes']}")
        let denyNamespace = authorizationPolicy(
            "deny-ns", "default", "action: DENY\nrules:\n- from:\n  - source: {namespaces: [other]}")
        let audit = authorizationPolicy("audit", "default", "action: AUDIT\nrules:\n- {}")
        let allowTCPByHTTP = authorizationPolicy(
            "allow-http-only", "default", "rules:\n- from:\n  - source: {namespaces: [default]}\n  to:\n  - operation: {methods: [GET]}")
        let denyTCPByPath = authorizationPolicy(
            "deny-path", "default", "action: DENY\nrules:\n- to:\n  - operation: {paths: [/admin]}")
        let allowPort = authorizationPolicy(
            "allow-port", "default", "rules:\n- to:\n  - operation: {ports: ['9000']}\n  when:\n  - {key: source.ip, values: [10.0.9.0/24]}")
        return [
            .init(configs: [allowReviewsGet], connection: .mesh(reviews, port: 9081, request: get("/api/v1")), outcome: http9081, mutualTLS: true),
            .init(
                configs: [allowReviewsGet], connection: .mesh(reviews, port: 9081, request: get("/items/42/view?x=1")), outcome: http9081,
                mutualTLS: true),
            // `{*}` is one segment.
            .init(
                configs: [allowReviewsGet], connection: .mesh(reviews, port: 9081, request: get("/items/4/2/view")), outcome: .denied(nil),
                mutualTLS: true),
            .init(
                configs: [allowReviewsGet], connection: .mesh(reviews, port: 9081, request: get("/api/admin/x")), outcome: .denied(nil),
                mutualTLS: true),
            .init(
                configs: [allowReviewsGet], connection: .mesh(reviews, port: 9081, request: get("/api/v1", method: "POST")),
                outcome: .denied(nil), mutualTLS: true),
            .init(
                configs: [allowReviewsGet], connection: .mesh(stranger, port: 9081, request: get("/api/v1")), outcome: .denied(nil), mutualTLS: true),
            // Plaintext has no principal.
            .init(configs: [allowReviewsGet], connection: .plaintext(port: 9081, request: get("/api/v1")), outcome: .denied(nil), mutualTLS: false),
            // Any ALLOW policy makes the default deny: the TCP port too, and undeclared ports.
            .init(configs: [allowReviewsGet], connection: .mesh(reviews, port: 9000), outcome: .denied(nil), mutualTLS: true),
            .init(configs: [allowReviewsGet], connection: .plaintext(port: 7777), outcome: .denied(nil), mutualTLS: false),
            // DENY runs before ALLOW.
            .init(
                configs: [allowReviewsGet, denyHeader], connection: .mesh(reviews, port: 9081, request: get("/api/v1", headers: ["x-block": "yes"])),
                outcome: .denied("ns[default]-policy[deny]-rule[0]"), mutualTLS: true),
            .init(
                configs: [allowReviewsGet, denyHeader], connection: .mesh(reviews, port: 9081, request: get("/api/v1", headers: ["x-block": "no"])),
                outcome: http9081, mutualTLS: true),
            .init(
                configs: [denyNamespace], connection: .mesh(stranger, port: 9000), outcome: .denied("ns[default]-policy[deny-ns]-rule[0]"),
                mutualTLS: true),
            .init(configs: [denyNamespace], connection: .mesh(reviews, port: 9000), outcome: tcp9000, mutualTLS: true),
            .init(configs: [denyNamespace], connection: .plaintext(port: 9000), outcome: tcp9000, mutualTLS: false),
            // AUDIT decides nothing.
            .init(configs: [audit], connection: .mesh(stranger, port: 9081, request: get()), outcome: http9081, mutualTLS: true),
            // An ALLOW with only HTTP fields on a TCP port: dropped there, so TCP is denied...
            .init(configs: [allowTCPByHTTP], connection: .mesh(reviews, port: 9000), outcome: .denied(nil), mutualTLS: true),
            // ...while HTTP honours it.
            .init(configs: [allowTCPByHTTP], connection: .mesh(reviews, port: 9081, request: get()), outcome: http9081, mutualTLS: true),
            // A DENY with an HTTP-only condition on a TCP port: kept without it, so it denies all TCP.
            .init(
                configs: [denyTCPByPath], connection: .mesh(reviews, port: 9000), outcome: .denied("ns[default]-policy[deny-path]-rule[0]"),
                mutualTLS: true),
            .init(configs: [denyTCPByPath], connection: .mesh(reviews, port: 9081, request: get("/ok")), outcome: http9081, mutualTLS: true),
            .init(
                configs: [denyTCPByPath], connection: .mesh(reviews, port: 9081, request: get("/admin")),
                outcome: .denied("ns[default]-policy[deny-path]-rule[0]"), mutualTLS: true),
            // Ports and source IPs work on TCP.
            .init(configs: [allowPort], connection: .plaintext(port: 9000), outcome: tcp9000, mutualTLS: false),
            .init(configs: [allowPort], connection: .plaintext(port: 9000, sourceAddress: "10.7.0.1"), outcome: .denied(nil), mutualTLS: false),
            .init(configs: [allowPort], connection: .plaintext(port: 9081, request: get()), outcome: .denied(nil), mutualTLS: false),
        ]
    }()

    @Test(arguments: authorization)
    func authorizationLikeEnvoy(_ row: InboundCase) throws {
        let result = try sidecar(row.configs).connect(row.connection)
        #expect(result.outcome == row.outcome)
        if let mutualTLS = row.mutualTLS { #expect(result.terminatedTLS == mutualTLS) }
    }

    @Test func filtersInIstiosOrder() throws {
        let push = try context([
            EnvoyFixture.mesh,
            authorizationPolicy("a", "default", "action: AUDIT\nrules:\n- {}"),
            authorizationPolicy("d", "default", "action: DENY\nrules:\n- from:\n  - source: {namespaces: [x]}"),
            authorizationPolicy("l", "istio-system", "rules:\n- {}"),
        ])
        let envoy = try EnvoySnapshot(push, proxy: workload)
        let inbound = try #require(envoy.listeners["virtualInbound"])
        let http = try #require(inbound.filterChains.last)
        let manager = try EnvoyFilters_Manager(serializedBytes: http.filters[0].typedConfig.value)
        #expect(
            manager.httpFilters.map(\.name) == [
                "envoy.filters.http.rbac.audit", "envoy.filters.http.rbac.deny", "envoy.filters.http.rbac.allow",
                "envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.router",
            ])
        #expect(manager.forwardClientCertDetails == .appendForward)
        let tcp = try #require(inbound.filterChains.first { $0.filterChainMatch.destinationPort.value == 9000 })
        #expect(
            tcp.filters.map(\.name) == [
                "envoy.filters.network.rbac.audit", "envoy.filters.network.rbac.deny", "envoy.filters.network.rbac.allow",
                "envoy.filters.network.tcp_proxy",
            ])
        let audit = try Envoy_Extensions_Filters_Network_Rbac_V3_RBAC(serializedBytes: tcp.filters[0].typedConfig.value)
        #expect(audit.rules.action == .log && audit.statPrefix == "tcp.")
    }

    @Test func listenerFiltersSkipThePortsThatNeedNone() throws {
        // 9000 in plaintext only, the rest STRICT: the TLS inspector skips 9000 and 15006; the
        // HTTP inspector runs only on 9000's... which has no plaintext HTTP chain (TCP): absent.
        let push = try context([
            EnvoyFixture.mesh,
            peerAuthentication(
                "pp", "default", "selector: {matchLabels: {app: productpage}}\nmtls: {mode: STRICT}\nportLevelMtls:\n  9000: {mode: DISABLE}"),
        ])
        let inbound = try #require(try EnvoySnapshot(push, proxy: workload).listeners["virtualInbound"])
        #expect(inbound.listenerFilters.map(\.name) == ["envoy.filters.listener.original_dst", "envoy.filters.listener.tls_inspector"])
        let disabled = inbound.listenerFilters[1].filterDisabled
        #expect(disabled.orMatch.rules.map(\.destinationPortRange.start) == [9000, 15006])
        #expect(disabled.orMatch.rules.map(\.destinationPortRange.end) == [9001, 15007])
        // Everything DISABLE but 9081 STRICT: the TLS inspector runs on 9081 alone.
        let only = try context([
            EnvoyFixture.mesh, mode("DISABLE"),
            peerAuthentication("pp", "default", "selector: {matchLabels: {app: productpage}}\nportLevelMtls:\n  9081: {mode: STRICT}"),
        ])
        let listener = try #require(try EnvoySnapshot(only, proxy: workload).listeners["virtualInbound"])
        let tls = try #require(listener.listenerFilters.first { $0.name == "envoy.filters.listener.tls_inspector" })
        #expect(tls.filterDisabled.notMatch.destinationPortRange.start == 9081)
    }
}

/// Auto mTLS as Istio decides it, per cluster and per endpoint.
@Suite("Auto mTLS for Envoy clients")
struct AutoMTLSDecisionTests {
    static let registry = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: reviews, namespace: shop}
        spec:
          hosts: [reviews.shop.svc.cluster.local]
          location: MESH_INTERNAL
          ports: [{number: 9080, name: http, protocol: HTTP}]
          resolution: STATIC
          workloadSelector: {labels: {app: reviews}}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: v1, namespace: shop}
        spec: {address: 10.1.0.1, labels: {app: reviews, version: v1, security.istio.io/tlsMode: istio}}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: v2, namespace: shop}
        spec: {address: 10.1.0.2, labels: {app: reviews, version: v2, security.istio.io/tlsMode: istio}}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: bare, namespace: shop}
        spec: {address: 10.1.0.3, labels: {app: reviews}, serviceAccount: reviews}
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: partner, namespace: shop}
        spec:
          hosts: [partner.example.com]
          location: MESH_EXTERNAL
          ports: [{number: 9080, name: http, protocol: HTTP}]
          resolution: STATIC
          endpoints: [{address: 10.9.0.1, labels: {security.istio.io/tlsMode: istio}}]
        """

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var configs: [String]
        var host = "reviews.shop.svc.cluster.local"
        /// Whether the cluster chooses its socket per endpoint (transport_socket_matches).
        var matches: Bool
        /// The endpoints marked for mTLS.
        var mutual: [String]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "no policy: PERMISSIVE, sidecar endpoints in mTLS", configs: [], matches: true, mutual: ["10.1.0.1", "10.1.0.2"]),
        Case(
            name: "namespace STRICT: an endpoint without the label still gets plaintext",
            configs: [peerAuthentication("s", "shop", "mtls: {mode: STRICT}")],
            matches: true, mutual: ["10.1.0.1", "10.1.0.2"]),
        Case(
            name: "a workload DISABLE turns off its endpoints only",
            configs: [peerAuthentication("v2", "shop", "selector: {matchLabels: {version: v2}}\nmtls: {mode: DISABLE}")], matches: true,
            mutual: ["10.1.0.1"]),
        Case(
            name: "a port-level DISABLE on the endpoint port",
            configs: [
                peerAuthentication(
                    "v1", "shop", "selector: {matchLabels: {version: v1}}\nmtls: {mode: STRICT}\nportLevelMtls:\n  9080: {mode: DISABLE}")
            ], matches: true, mutual: ["10.1.0.2"]),
        Case(
            name: "namespace DISABLE: no auto mTLS for the service at all", configs: [peerAuthentication("d", "shop", "mtls: {mode: DISABLE}")],
            matches: false, mutual: []),
        Case(
            name: "mesh DISABLE, namespace UNSET inherits it",
            configs: [peerAuthentication("m", "istio-system", "mtls: {mode: DISABLE}"), peerAuthentication("u", "shop", "mtls: {mode: UNSET}")],
            matches: false, mutual: []),
        Case(
            name: "mesh DISABLE, namespace STRICT",
            configs: [peerAuthentication("m", "istio-system", "mtls: {mode: DISABLE}"), peerAuthentication("s", "shop", "mtls: {mode: STRICT}")],
            matches: true, mutual: ["10.1.0.1", "10.1.0.2"]),
        Case(name: "a mesh-external service never", configs: [], host: "partner.example.com", matches: false, mutual: ["10.9.0.1"]),
        Case(
            name: "a DestinationRule's TLS overrides",
            configs: [
                "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: shop}\nspec:\n  host: reviews.shop.svc.cluster.local\n  trafficPolicy: {tls: {mode: DISABLE}}"
            ], matches: false, mutual: ["10.1.0.1", "10.1.0.2"]),
    ]

    @Test(arguments: cases)
    func decision(_ test: Case) throws {
        let push = try context([Self.registry] + test.configs)
        let snapshot = ProxySnapshot(proxy: EnvoyFixture.proxy(), push: push, table: .testing)
        let name = "outbound|9080||\(test.host)"
        let cluster = try Envoy_Config_Cluster_V3_Cluster(serializedBytes: try #require(snapshot.of(TypeURL.cluster)[name]).payload.value)
        #expect(!cluster.transportSocketMatches.isEmpty == test.matches)
        let assignment = try Envoy_Config_Endpoint_V3_ClusterLoadAssignment(
            serializedBytes: try #require(snapshot.of(TypeURL.endpoint)[name]).payload.value)
        let marked = assignment.endpoints.flatMap(\.lbEndpoints).filter { $0.metadata.filterMetadata["envoy.transport_socket_match"] != nil }
        // Metadata without matching clusters changes nothing; only its presence is Istio's rule.
        #expect(marked.map(\.endpoint.address.socketAddress.address).sorted() == test.mutual)
    }
}

private typealias EnvoyFilters_Manager = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager

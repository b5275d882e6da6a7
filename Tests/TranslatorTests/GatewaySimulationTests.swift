import EnvoyAPI
import MeshTesting
import PushPipeline
import Testing
import Translator

/// One row: a gateway's configuration, a request at its edge, and where Envoy takes it.
struct GatewayCase: CustomTestStringConvertible, Sendable {
    var name: String
    var config: [String]
    var connection: SimulatedConnection
    var listener: String?
    var outcome: SimulatedOutcome
    var testDescription: String { name }
}

private let productpage = "outbound|9080||productpage.default.svc.cluster.local"
private let ratings = "outbound|9080||ratings.prod.svc.cluster.local"
private let reviewsV1 = "outbound|9080|v1|reviews.default.svc.cluster.local"
private let reviewsV2 = "outbound|9080|v2|reviews.default.svc.cluster.local"

/// An http rule to `host` (productpage has two ports: its destinations name 9080).
private func route(_ prefix: String? = nil, to host: String, subset: String? = nil) -> String {
    let match = prefix.map { "match: [{uri: {prefix: \($0)}}], " } ?? ""
    let port = host.hasPrefix("productpage") ? ", port: {number: 9080}" : ""
    return "{\(match)route: [{destination: {host: \(host)\(subset.map { ", subset: \($0)" } ?? "")\(port)}}]}"
}

/// Traffic through an Envoy ingress gateway, judged from the bytes meshd sends: listener by
/// port, filter chain by SNI, virtual host by domain, route, weighted clusters, endpoints. Rows
/// marked "istiod:" restate cases of istiod's gateway simulation tests as facts.
@Suite struct GatewaySimulationTests {
    static let gateway = GatewayFixture.gateway(servers: [GatewayFixture.http(hosts: ["foo.bar"])])
    static let productpageVS = GatewayFixture.virtualService(
        "pp", hosts: ["*"], gateways: ["istio-system/ingress"],
        http: ["{match: [{uri: {exact: /productpage}}], route: [{destination: {host: productpage, port: {number: 9080}}}]}"])

    /// Gateways alpha (`ns-1/*.example.com`) and beta (`ns-2/*.example.com`) on port 80; a
    /// VirtualService in ns-1 for `vsA` bound to `bindsA` (to productpage), and one in ns-2 for
    /// ns-2.example.com bound to beta (to ratings).
    static func twoNamespaces(vsA: String, bindsA: String) -> [String] {
        [
            GatewayFixture.gateway("alpha", namespace: "default", servers: [GatewayFixture.http(hosts: ["ns-1/*.example.com"])]),
            GatewayFixture.gateway("beta", namespace: "default", servers: [GatewayFixture.http(name: "http-beta", hosts: ["ns-2/*.example.com"])]),
            GatewayFixture.virtualService(
                "a", namespace: "ns-1", hosts: [vsA], gateways: [bindsA], http: [route(to: "productpage.default.svc.cluster.local")]),
            GatewayFixture.virtualService(
                "b", namespace: "ns-2", hosts: ["ns-2.example.com"], gateways: ["default/beta"], http: [route(to: "ratings.prod.svc.cluster.local")]),
        ]
    }

    /// A PASSTHROUGH server for `*.example.com` and a VirtualService routing api.example.com by SNI.
    static let passthrough = [
        GatewayFixture.gateway(servers: ["{port: {number: 443, name: tls, protocol: TLS}, hosts: [\"*.example.com\"], tls: {mode: PASSTHROUGH}}"]),
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: api, namespace: default}
        spec:
          hosts: [api.example.com]
          gateways: [istio-system/ingress]
          tls: [{match: [{port: 443, sniHosts: [api.example.com]}], route: [{destination: {host: api.example.com, port: {number: 443}}}]}]
        """,
    ]

    static let cases: [GatewayCase] = [
        .init(
            name: "istiod: no virtual services answers 404 on the port", config: [gateway],
            connection: .edge("foo.bar", port: 80), listener: "0.0.0.0_80", outcome: .noRoute),
        .init(
            name: "istiod: no listener on a port no server has", config: [gateway],
            connection: .edge("foo.bar", port: 81), listener: nil, outcome: .noListener("0.0.0.0:81")),
        .init(
            name: "istiod: a VirtualService for * exposes the server's host, its path routed", config: [gateway, productpageVS],
            connection: .edge("foo.bar", port: 80, path: "/productpage"), listener: "0.0.0.0_80",
            outcome: .cluster(productpage, endpoints: ["10.0.0.5:9081"])),
        .init(
            name: "istiod: ... and other paths find no route", config: [gateway, productpageVS],
            connection: .edge("foo.bar", port: 80, path: "/"), listener: "0.0.0.0_80", outcome: .noRoute),
        .init(
            name: "istiod: ... and a host the server does not have no virtual host", config: [gateway, productpageVS],
            connection: .edge("bad.bar", port: 80, path: "/productpage"), listener: "0.0.0.0_80", outcome: .noVirtualHost),
        .init(
            name: "the port in the authority is ignored", config: [gateway, productpageVS],
            connection: .edge("foo.bar:80", port: 80, path: "/productpage"), listener: "0.0.0.0_80",
            outcome: .cluster(productpage, endpoints: ["10.0.0.5:9081"])),
        .init(
            name: "a VirtualService not bound to the gateway is absent",
            config: [gateway, GatewayFixture.virtualService("mesh-only", hosts: ["foo.bar"], gateways: ["mesh"], http: [route(to: "productpage")])],
            connection: .edge("foo.bar", port: 80), listener: "0.0.0.0_80", outcome: .noRoute),
        .init(
            name: "a VirtualService bound to another gateway is absent",
            config: [
                gateway,
                GatewayFixture.virtualService("other", hosts: ["foo.bar"], gateways: ["istio-system/egress"], http: [route(to: "productpage")]),
            ],
            connection: .edge("foo.bar", port: 80), listener: "0.0.0.0_80", outcome: .noRoute),
        .init(
            name: "istiod: virtual service merging on a wildcard server (a)",
            config: [
                GatewayFixture.gateway(servers: [GatewayFixture.http(hosts: ["*.example.com"])]),
                GatewayFixture.virtualService("a", hosts: ["a.example.com"], gateways: ["istio-system/ingress"], http: [route(to: "productpage")]),
                GatewayFixture.virtualService(
                    "b", hosts: ["b.example.com"], gateways: ["istio-system/ingress"], http: [route(to: "ratings.prod.svc.cluster.local")]),
            ],
            connection: .edge("a.example.com", port: 80), listener: "0.0.0.0_80", outcome: .cluster(productpage, endpoints: ["10.0.0.5:9081"])),
        .init(
            name: "istiod: virtual service merging on a wildcard server (b)",
            config: [
                GatewayFixture.gateway(servers: [GatewayFixture.http(hosts: ["*.example.com"])]),
                GatewayFixture.virtualService("a", hosts: ["a.example.com"], gateways: ["istio-system/ingress"], http: [route(to: "productpage")]),
                GatewayFixture.virtualService(
                    "b", hosts: ["b.example.com"], gateways: ["istio-system/ingress"], http: [route(to: "ratings.prod.svc.cluster.local")]),
            ],
            connection: .edge("b.example.com", port: 80), listener: "0.0.0.0_80", outcome: .cluster(ratings, endpoints: ["10.0.1.7:9080"])),
        .init(
            name: "istiod: virtual service merging leaves other names without a virtual host",
            config: [
                GatewayFixture.gateway(servers: [GatewayFixture.http(hosts: ["*.example.com"])]),
                GatewayFixture.virtualService("a", hosts: ["a.example.com"], gateways: ["istio-system/ingress"], http: [route(to: "productpage")]),
            ],
            connection: .edge("c.example.com", port: 80), listener: "0.0.0.0_80", outcome: .noVirtualHost),
        .init(
            name: "istiod: httpsRedirect without routes redirects",
            config: [GatewayFixture.gateway(servers: [GatewayFixture.http(hosts: ["example.com"], redirect: true)])],
            connection: .edge("example.com", port: 80, path: "/a"), listener: "0.0.0.0_80",
            outcome: .redirect(location: "https://example.com/a", status: 301)),
        .init(
            name: "istiod: httpsRedirect with routes still redirects",
            config: [
                GatewayFixture.gateway(servers: [GatewayFixture.http(hosts: ["example.com"], redirect: true)]),
                GatewayFixture.virtualService("a", hosts: ["example.com"], gateways: ["istio-system/ingress"], http: [route(to: "productpage")]),
            ],
            connection: .edge("example.com", port: 80), listener: "0.0.0.0_80", outcome: .redirect(location: "https://example.com/", status: 301)),
        .init(
            name: "istiod: a redirecting server and a plain one on a port: the redirect wins",
            config: [
                GatewayFixture.gateway(servers: [GatewayFixture.http(hosts: ["example.com"], redirect: true)]),
                GatewayFixture.gateway("plain", servers: [GatewayFixture.http(name: "http-plain", hosts: ["example.com"])]),
                GatewayFixture.virtualService("a", hosts: ["example.com"], gateways: ["istio-system/ingress"], http: [route(to: "productpage")]),
            ],
            connection: .edge("example.com", port: 80), listener: "0.0.0.0_80", outcome: .redirect(location: "https://example.com/", status: 301)),
        .init(
            name: "istiod: routes of several VirtualServices for one host are appended (oldest first)",
            config: [
                GatewayFixture.gateway(servers: [GatewayFixture.http(hosts: ["foo.example.com", "bar.example.com"])]),
                GatewayFixture.virtualService(
                    "foobar", hosts: ["foo.example.com", "bar.example.com"], gateways: ["istio-system/ingress"],
                    http: [route("/1", to: "productpage")]),
                GatewayFixture.virtualService(
                    "foo", hosts: ["foo.example.com"], gateways: ["istio-system/ingress"], http: [route("/foo", to: "ratings.prod.svc.cluster.local")]
                ),
            ],
            connection: .edge("foo.example.com", port: 80, path: "/foo"), listener: "0.0.0.0_80",
            outcome: .cluster(ratings, endpoints: ["10.0.1.7:9080"])),
        .init(
            name: "a catch-all of the older VirtualService does not hide the newer one's paths",
            config: [
                GatewayFixture.gateway(servers: [GatewayFixture.http(hosts: ["foo.example.com"])]),
                GatewayFixture.virtualService(
                    "all", hosts: ["foo.example.com"], gateways: ["istio-system/ingress"], http: [route(to: "productpage")]),
                GatewayFixture.virtualService(
                    "foo", hosts: ["foo.example.com"], gateways: ["istio-system/ingress"], http: [route("/foo", to: "ratings.prod.svc.cluster.local")]
                ),
            ],
            connection: .edge("foo.example.com", port: 80, path: "/foo"), listener: "0.0.0.0_80",
            outcome: .cluster(ratings, endpoints: ["10.0.1.7:9080"])),
        .init(
            name: "istiod: server hosts' namespaces tell VirtualServices apart (ns-1)",
            config: twoNamespaces(vsA: "ns-1.example.com", bindsA: "default/alpha"),
            connection: .edge("ns-1.example.com", port: 80), listener: "0.0.0.0_80", outcome: .cluster(productpage, endpoints: ["10.0.0.5:9081"])),
        .init(
            // Older, and bound to beta too, but beta's server admits only ns-2's VirtualServices.
            name: "server hosts' namespaces keep another namespace's VirtualService out",
            config: twoNamespaces(vsA: "ns-2.example.com", bindsA: "default/beta"),
            connection: .edge("ns-2.example.com", port: 80), listener: "0.0.0.0_80", outcome: .cluster(ratings, endpoints: ["10.0.1.7:9080"])),
        .init(
            name: "istiod: multiple protocols on a port, TCP first: the HTTP server is skipped",
            config: [
                GatewayFixture.gateway("alpha", servers: ["{port: {number: 80, name: tcp, protocol: TCP}, hosts: [\"*\"]}"]),
                GatewayFixture.gateway("beta", servers: [GatewayFixture.http(hosts: ["*"])]),
            ],
            connection: .edge("foo.bar", port: 80), listener: nil, outcome: .noListener("0.0.0.0:80")),
        .init(
            name: "a TCP server forwards with its bound VirtualService's tcp rule",
            config: [
                GatewayFixture.gateway(servers: ["{port: {number: 3306, name: mysql, protocol: TCP}, hosts: [\"*\"]}"]),
                """
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: mysql, namespace: default}
                spec:
                  hosts: [mysql]
                  gateways: [istio-system/ingress]
                  tcp: [{match: [{port: 3306}], route: [{destination: {host: mysql, port: {number: 3306}}}]}]
                """,
            ],
            connection: .init(.edge, address: "0.0.0.0", port: 3306), listener: "0.0.0.0_3306",
            outcome: .cluster("outbound|3306||mysql.default.svc.cluster.local", endpoints: ["10.0.2.1:3306"])),
        .init(
            name: "a PASSTHROUGH server routes by SNI with the bound tls rules",
            config: passthrough,
            connection: .init(.edge, address: "0.0.0.0", port: 443, serverName: "api.example.com"), listener: "0.0.0.0_443",
            outcome: .cluster("outbound|443||api.example.com", endpoints: ["api.example.com:443"])),
        .init(
            name: "a PASSTHROUGH server closes connections for names no rule takes",
            config: passthrough,
            connection: .init(.edge, address: "0.0.0.0", port: 443, serverName: "other.example.com"), listener: "0.0.0.0_443",
            outcome: .noFilterChain("0.0.0.0_443")),
        .init(
            name: "an HTTPS server terminates TLS by SNI and routes with its own route configuration",
            config: [
                GatewayFixture.gateway(servers: [
                    "{port: {number: 443, name: https, protocol: HTTPS}, hosts: [reviews.example.com], tls: {mode: SIMPLE, credentialName: reviews-cert}}"
                ]),
                GatewayFixture.virtualService(
                    "reviews-edge", hosts: ["reviews.example.com"], gateways: ["istio-system/ingress"], http: [route(to: "productpage")]),
            ],
            connection: .edge("reviews.example.com", port: 443, serverName: "reviews.example.com"), listener: "0.0.0.0_443",
            outcome: .cluster(productpage, endpoints: ["10.0.0.5:9081"])),
    ]

    static func simulation(_ config: [String]) throws -> TrafficSimulation {
        let push = try context([CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]), EnvoyFixture.mesh] + config)
        return try TrafficSimulation(snapshot: ProxySnapshot(proxy: GatewayFixture.proxy(), push: push, table: .testing))
    }

    @Test(arguments: cases)
    func edgeTraffic(_ row: GatewayCase) throws {
        let result = try Self.simulation(row.config).connect(row.connection)
        #expect(result.listener == row.listener)
        #expect(result.outcome == row.outcome)
    }

    /// The seed's canary through the edge: the VirtualService bound to the mesh and to the
    /// gateway splits the gateway's traffic as it splits the mesh's.
    @Test func theCanaryThroughTheGateway() throws {
        func canary(_ v1: Int, _ v2: Int) -> String {
            GatewayFixture.virtualService(
                "reviews", hosts: ["reviews", "reviews.example.com"], gateways: ["mesh", "istio-system/ingress"],
                http: [
                    "{route: [{destination: {host: reviews, subset: v1}, weight: \(v1)}, {destination: {host: reviews, subset: v2}, weight: \(v2)}]}"
                ])
        }
        let gateway = GatewayFixture.gateway(servers: [GatewayFixture.http(hosts: ["reviews.example.com"])])
        let half = try Self.simulation([gateway, canary(50, 50)]).connect(.edge("reviews.example.com", port: 80))
        #expect(half.outcome == .weighted([.init(reviewsV1, 50), .init(reviewsV2, 50)]))
        let all = try Self.simulation([gateway, canary(0, 100)]).connect(.edge("reviews.example.com", port: 80))
        #expect(all.outcome == .cluster(reviewsV2, endpoints: ["127.0.0.1:9082"]))
    }

    /// What an HTTPS server's chain carries: SNI, the credential over SDS from meshd (ADS), and
    /// for MUTUAL the `-cacert` half with a client certificate required.
    @Test func httpsChainsNameTheirSecrets() throws {
        let config = GatewayFixture.gateway(servers: [
            "{port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: SIMPLE, credentialName: a-cert}}",
            "{port: {number: 443, name: mtls, protocol: HTTPS}, hosts: [b.example.com], tls: {mode: MUTUAL, credentialName: b-cert}}",
        ])
        let simulation = try Self.simulation([config])
        let listener = try #require(simulation.listeners["0.0.0.0_443"])
        #expect(listener.listenerFilters.map(\.name) == ["envoy.filters.listener.tls_inspector"])
        let contexts = try listener.filterChains.map { chain in
            (
                chain.filterChainMatch.serverNames,
                try Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext(
                    serializedBytes: chain.transportSocket.typedConfig.value)
            )
        }
        #expect(contexts.map(\.0) == [["a.example.com"], ["b.example.com"]])
        let simple = contexts[0].1
        #expect(simple.commonTlsContext.tlsCertificateSdsSecretConfigs.map(\.name) == ["kubernetes://a-cert"])
        let overADS =
            if case .ads? = simple.commonTlsContext.tlsCertificateSdsSecretConfigs[0].sdsConfig.configSourceSpecifier { true } else { false }
        #expect(overADS)
        #expect(simple.requireClientCertificate.value == false)
        #expect(simple.commonTlsContext.alpnProtocols == ["h2", "http/1.1"])
        let mutual = contexts[1].1
        #expect(mutual.requireClientCertificate.value)
        #expect(mutual.commonTlsContext.combinedValidationContext.validationContextSdsSecretConfig.name == "kubernetes://b-cert-cacert")
        #expect(simulation.routes.keys.sorted() == ["https.443.https.ingress.istio-system", "https.443.mtls.ingress.istio-system"])
    }

    /// Config dumps render every resource as JSON, Any payloads included: every type meshd packs
    /// is registered (a gateway's DownstreamTlsContext, a sidecar's CORS and RBAC filters).
    @Test func everyPackedTypeRendersAsJSON() throws {
        EnvoyTypes.registerForJSON()
        let config = GatewayFixture.gateway(servers: [
            "{port: {number: 443, name: https, protocol: HTTPS}, hosts: [a.example.com], tls: {mode: MUTUAL, credentialName: a-cert}}"
        ])
        let push = try context([CanaryFixture.registry, EnvoyFixture.mesh, config])
        for proxy in [GatewayFixture.proxy(), EnvoyFixture.proxy()] {
            let snapshot = ProxySnapshot(proxy: proxy, push: push, table: .testing)
            for typeURL in [TypeURL.listener, TypeURL.route, TypeURL.cluster, TypeURL.endpoint] {
                for (name, resource) in snapshot.of(typeURL) {
                    #expect(throws: Never.self, "\(name)") { _ = try resource.payload.jsonString() }
                }
            }
        }
    }

    /// A protocol conflict on one port: the later server is skipped and the merge says why.
    @Test func aConflictingServerIsReported() throws {
        let push = try context([
            GatewayFixture.gateway("alpha", servers: [GatewayFixture.http(hosts: ["*"])]),
            GatewayFixture.gateway("beta", servers: ["{port: {number: 80, name: tcp, protocol: TCP}, hosts: [\"*\"]}"]),
        ])
        let merged = MergedGateway(push.gateways.entries(push.gateways.selecting(["istio": "ingressgateway"])))
        #expect(merged.listeners.map(\.name) == ["0.0.0.0_80"])
        #expect(merged.rejected.map(\.server.gatewayName) == ["istio-system/beta"])
        #expect(merged.rejected.first?.reason.contains("already served as HTTP") == true)
    }

    /// Only gateways get Gateways' listeners, and a gateway gets no sidecar or proxyless shapes.
    @Test func aGatewayGetsGatewayShapesOnly() throws {
        let simulation = try Self.simulation([Self.gateway, Self.productpageVS])
        #expect(simulation.listeners.keys.sorted() == ["0.0.0.0_15021", "0.0.0.0_15090", "0.0.0.0_80"])
        #expect(simulation.routes.keys.sorted() == ["http.80"])
        #expect(simulation.clusters["PassthroughCluster"] == nil)
        #expect(simulation.clusters["BlackHoleCluster"] != nil)
        #expect(simulation.clusters[productpage] != nil)
        let sidecar = try TrafficSimulation(
            snapshot: ProxySnapshot(
                proxy: EnvoyFixture.proxy(),
                push: try context([CanaryFixture.registry, EnvoyFixture.mesh, Self.gateway, Self.productpageVS]), table: .testing))
        #expect(sidecar.routes["http.80"] == nil)
    }
}

import EnvoyAPI
import MeshTesting
import PushPipeline
import Testing
import Translator
import XDS
import XDSCore

/// One row: a connection and where Envoy takes it.
struct ConnectionCase: CustomTestStringConvertible, Sendable {
    var connection: SimulatedConnection
    var listener: String?
    var outcome: SimulatedOutcome
    var testDescription: String { "\(connection) → \(listener ?? "no listener")" }
}

private let reviews = "outbound|9080||reviews.default.svc.cluster.local"
private let reviewsEndpoints = ["127.0.0.1:9081", "127.0.0.1:9082"]
private let ratings = "outbound|9080||ratings.prod.svc.cluster.local"

/// Traffic through an Envoy sidecar, judged only from the bytes meshd sends: listener by
/// original destination, filter chain by port, address, SNI and transport, then routes.
@Suite struct EnvoySimulationTests {
    static let allowAny: [ConnectionCase] = [
        // HTTP by every name the proxy's namespace may use, on any service IP.
        .init(connection: .http("reviews:9080", port: 9080), listener: "0.0.0.0_9080", outcome: .cluster(reviews, endpoints: reviewsEndpoints)),
        .init(connection: .http("reviews", port: 9080), listener: "0.0.0.0_9080", outcome: .cluster(reviews, endpoints: reviewsEndpoints)),
        .init(connection: .http("reviews.default", port: 9080), listener: "0.0.0.0_9080", outcome: .cluster(reviews, endpoints: reviewsEndpoints)),
        .init(
            connection: .http("reviews.default.svc:9080", port: 9080), listener: "0.0.0.0_9080",
            outcome: .cluster(reviews, endpoints: reviewsEndpoints)),
        .init(
            connection: .http("reviews.default.svc.cluster.local:9080", port: 9080), listener: "0.0.0.0_9080",
            outcome: .cluster(reviews, endpoints: reviewsEndpoints)),
        .init(connection: .http("ratings.prod:9080", port: 9080), listener: "0.0.0.0_9080", outcome: .cluster(ratings, endpoints: ["10.0.1.7:9080"])),
        // `ratings` from `default` is ratings.default, which does not exist: passthrough.
        .init(
            connection: .http("ratings:9080", address: "10.9.0.1", port: 9080), listener: "0.0.0.0_9080",
            outcome: .cluster("PassthroughCluster", endpoints: ["10.9.0.1:9080"])),
        // TCP: the service's virtual IP has its own listener.
        .init(
            connection: .init(address: "10.0.0.50", port: 3306), listener: "10.0.0.50_3306",
            outcome: .cluster("outbound|3306||mysql.default.svc.cluster.local", endpoints: ["10.0.2.1:3306"])),
        // Another IP on 3306 is no service: virtualOutbound keeps it and passes it through.
        .init(
            connection: .init(address: "10.0.0.51", port: 3306), listener: "virtualOutbound",
            outcome: .cluster("PassthroughCluster", endpoints: ["10.0.0.51:3306"])),
        // 5432: the CIDR service by destination prefix, the address-less one for the rest.
        .init(
            connection: .init(address: "192.168.10.3", port: 5432), listener: "0.0.0.0_5432",
            outcome: .cluster("outbound|5432||db.internal", endpoints: ["192.168.10.3:5432"])),
        .init(
            connection: .init(address: "10.1.2.3", port: 5432), listener: "0.0.0.0_5432",
            outcome: .cluster("outbound|5432||legacy.default.svc.cluster.local", endpoints: ["10.0.2.2:5432"])),
        // TLS by SNI; an unknown SNI or plaintext on 443 passes through (ALLOW_ANY).
        .init(
            connection: .init(address: "93.184.216.34", port: 443, serverName: "api.example.com"), listener: "0.0.0.0_443",
            outcome: .cluster("outbound|443||api.example.com", endpoints: ["api.example.com:443"])),
        .init(
            connection: .init(address: "93.184.216.34", port: 443, serverName: "www.example.org"), listener: "0.0.0.0_443",
            outcome: .cluster("outbound|443||www.example.org", endpoints: ["www.example.org:443"])),
        .init(
            connection: .init(address: "93.184.216.34", port: 443, serverName: "evil.example.net"), listener: "0.0.0.0_443",
            outcome: .cluster("PassthroughCluster", endpoints: ["93.184.216.34:443"])),
        .init(
            connection: .init(address: "93.184.216.34", port: 443), listener: "0.0.0.0_443",
            outcome: .cluster("PassthroughCluster", endpoints: ["93.184.216.34:443"])),
        // A port no service has.
        .init(
            connection: .init(address: "10.9.9.9", port: 7777), listener: "virtualOutbound",
            outcome: .cluster("PassthroughCluster", endpoints: ["10.9.9.9:7777"])),
        // Inbound: the workload's declared ports over loopback, anything else unchanged.
        .init(
            connection: .init(.inbound, address: "10.0.0.5", port: 9081, request: .init(authority: "productpage:9080", method: "GET")),
            listener: "virtualInbound", outcome: .cluster("inbound|9081||", endpoints: ["127.0.0.1:9081"])),
        .init(
            connection: .init(.inbound, address: "10.0.0.5", port: 9000), listener: "virtualInbound",
            outcome: .cluster("inbound|9000||", endpoints: ["127.0.0.1:9000"])),
        .init(
            connection: .init(.inbound, address: "10.0.0.5", port: 8888), listener: "virtualInbound",
            outcome: .cluster("InboundPassthroughCluster", endpoints: ["10.0.0.5:8888"])),
    ]

    static let registryOnly: [ConnectionCase] = [
        .init(connection: .http("reviews", port: 9080), listener: "0.0.0.0_9080", outcome: .cluster(reviews, endpoints: reviewsEndpoints)),
        .init(connection: .http("example.net", port: 9080), listener: "0.0.0.0_9080", outcome: .directResponse(status: 502)),
        .init(connection: .init(address: "10.9.9.9", port: 7777), listener: "virtualOutbound", outcome: .cluster("BlackHoleCluster", endpoints: [])),
        .init(
            connection: .init(address: "93.184.216.34", port: 443, serverName: "evil.example.net"), listener: "0.0.0.0_443",
            outcome: .cluster("BlackHoleCluster", endpoints: [])),
        .init(
            connection: .init(address: "10.0.0.50", port: 3306), listener: "10.0.0.50_3306",
            outcome: .cluster("outbound|3306||mysql.default.svc.cluster.local", endpoints: ["10.0.2.1:3306"])),
        // Inbound is not governed by the outbound policy.
        .init(
            connection: .init(.inbound, address: "10.0.0.5", port: 8888), listener: "virtualInbound",
            outcome: .cluster("InboundPassthroughCluster", endpoints: ["10.0.0.5:8888"])),
    ]

    static func simulation(_ extra: String...) throws -> TrafficSimulation {
        let push = try context([CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]), EnvoyFixture.mesh] + extra)
        return try TrafficSimulation(snapshot: ProxySnapshot(proxy: EnvoyFixture.proxy(), push: push, table: .testing))
    }

    @Test(arguments: allowAny)
    func allowAnyMesh(_ row: ConnectionCase) throws {
        let result = try Self.simulation().connect(row.connection)
        #expect(result.listener == row.listener)
        #expect(result.outcome == row.outcome)
    }

    @Test(arguments: registryOnly)
    func registryOnlyMesh(_ row: ConnectionCase) throws {
        let result = try Self.simulation(EnvoyFixture.outboundPolicy("REGISTRY_ONLY")).connect(row.connection)
        #expect(result.listener == row.listener)
        #expect(result.outcome == row.outcome)
    }

    /// The canary shift as an Envoy sidecar experiences it: 50/50, then everything to v2.
    @Test func theCanaryShift() throws {
        let v1 = "outbound|9080|v1|reviews.default.svc.cluster.local"
        let v2 = "outbound|9080|v2|reviews.default.svc.cluster.local"
        let half = try Self.simulation(CanaryFixture.virtualService([("v1", 50), ("v2", 50)])).connect(.http("reviews:9080", port: 9080))
        #expect(half.outcome == .weighted([.init(v1, 50), .init(v2, 50)]))
        let all = try Self.simulation(CanaryFixture.virtualService([("v1", 0), ("v2", 100)])).connect(.http("reviews", port: 9080))
        #expect(all.outcome == .cluster(v2, endpoints: ["127.0.0.1:9082"]))
    }

    /// Envoy's order of specificity, on a hand-built listener: port before address before
    /// SNI before transport, exact SNI before wildcard, no backtracking to less specific ports.
    @Test func filterChainOrderOfSpecificity() {
        func chain(_ name: String, port: UInt32? = nil, prefix: (String, UInt32)? = nil, sni: [String] = [], transport: String = "")
            -> Envoy_Config_Listener_V3_FilterChain
        {
            var chain = Envoy_Config_Listener_V3_FilterChain()
            chain.name = name
            if let port { chain.filterChainMatch.destinationPort = .init(port) }
            if let prefix {
                var range = Envoy_Config_Core_V3_CidrRange()
                range.addressPrefix = prefix.0
                range.prefixLen = .init(prefix.1)
                chain.filterChainMatch.prefixRanges = [range]
            }
            chain.filterChainMatch.serverNames = sni
            chain.filterChainMatch.transportProtocol = transport
            return chain
        }
        var listener = Envoy_Config_Listener_V3_Listener()
        listener.filterChains = [
            chain("any"), chain("port-80", port: 80), chain("port-80-net", port: 80, prefix: ("10.0.0.0", 8)),
            chain("port-80-host", port: 80, prefix: ("10.1.2.3", 32)), chain("sni-exact", sni: ["a.example.com"], transport: "tls"),
            chain("sni-wild", sni: ["*.example.com"], transport: "tls"), chain("tls-any", transport: "tls"),
        ]
        func pick(_ address: String, _ port: UInt32, sni: String? = nil) -> String? {
            FilterChainSelection.select(
                in: listener,
                .init(
                    address: address, port: port, serverName: sni,
                    transportProtocol: sni == nil ? "raw_buffer" : "tls"))?.name
        }
        #expect(pick("10.1.2.3", 80) == "port-80-host")
        #expect(pick("10.9.9.9", 80) == "port-80-net")
        #expect(pick("192.168.0.1", 80) == "port-80")
        // Port 80 chains exist, so the SNI chains (port unset) are never considered.
        #expect(pick("192.168.0.1", 80, sni: "a.example.com") == "port-80")
        #expect(pick("192.168.0.1", 443, sni: "a.example.com") == "sni-exact")
        #expect(pick("192.168.0.1", 443, sni: "b.example.com") == "sni-wild")
        #expect(pick("192.168.0.1", 443, sni: "other.org") == "tls-any")
        #expect(pick("192.168.0.1", 443) == "any")
        listener.filterChains.removeFirst()
        #expect(pick("192.168.0.1", 443) == nil, "no chain and no default: Envoy closes the connection")
    }

    /// A VirtualService's `tcp[]` rules steer a virtual IP's connections (the shared L4 route
    /// translation), and what no rule matches still reaches the service.
    @Test func tcpRoutesOnAVirtualIP() throws {
        let rules = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: mysql, namespace: default}
            spec:
              hosts: [mysql.default.svc.cluster.local]
              tcp:
              - match: [{port: 3306, destinationSubnets: [10.0.0.50/32]}]
                route: [{destination: {host: legacy.default.svc.cluster.local, port: {number: 5432}}}]
            """
        let simulation = try Self.simulation(rules)
        let steered = simulation.connect(.init(address: "10.0.0.50", port: 3306))
        #expect(steered.listener == "10.0.0.50_3306")
        #expect(steered.outcome == .cluster("outbound|5432||legacy.default.svc.cluster.local", endpoints: ["10.0.2.2:5432"]))
    }
}

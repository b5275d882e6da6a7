import Discovery
import EnvoyAPI
import MeshModel
import MeshTesting
import PushPipeline
import SwiftProtobuf
import Testing
import Translator
import XDS
import XDSCore

private let reviews = "reviews.default.svc.cluster.local"

/// The snapshot an Envoy sidecar gets, decoded from the bytes meshd would send.
struct EnvoySnapshot {
    let snapshot: ProxySnapshot
    let listeners: [String: Envoy_Config_Listener_V3_Listener]
    let routes: [String: Envoy_Config_Route_V3_RouteConfiguration]
    let clusters: [String: Envoy_Config_Cluster_V3_Cluster]

    init(_ push: PushContext, proxy: Proxy = EnvoyFixture.proxy()) throws {
        let snapshot = ProxySnapshot(proxy: proxy, push: push, table: .testing)
        self.snapshot = snapshot
        listeners = try Self.decode(snapshot, TypeURL.listener)
        routes = try Self.decode(snapshot, TypeURL.route)
        clusters = try Self.decode(snapshot, TypeURL.cluster)
    }

    private static func decode<M: SwiftProtobuf.Message>(_ snapshot: ProxySnapshot, _ typeURL: String) throws -> [String: M] {
        try snapshot.of(typeURL).mapValues { try M(serializedBytes: $0.payload.value) }
    }

    func manager(_ listener: String, chain: Int = 0) throws -> Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager {
        try .init(serializedBytes: #require(listeners[listener]).filterChains[chain].filters[0].typedConfig.value)
    }
}

/// What meshd sends an Envoy sidecar: istiod's names and shapes, checked field by field.
@Suite struct EnvoySidecarTests {
    static func mesh(_ extra: String...) throws -> PushContext {
        try context([CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]), EnvoyFixture.mesh] + extra)
    }

    @Test func listenersAreNamedAsIstiodNamesThem() throws {
        let envoy = try EnvoySnapshot(Self.mesh())
        #expect(
            Set(envoy.listeners.keys) == [
                "0.0.0.0_9080", "0.0.0.0_9000", "10.0.0.50_3306", "0.0.0.0_5432", "0.0.0.0_443",
                "virtualOutbound", "virtualInbound", "0.0.0.0_15021", "0.0.0.0_15090",
            ])
        let http = try #require(envoy.listeners["0.0.0.0_9080"])
        #expect(http.bindToPort.value == false && http.hasBindToPort)
        #expect(http.address.socketAddress.address == "0.0.0.0" && http.address.socketAddress.portValue == 9080)
        #expect(http.listenerFilters.isEmpty, "no chain matches on SNI or ALPN, so no inspector")
        let manager = try envoy.manager("0.0.0.0_9080")
        #expect(manager.rds.routeConfigName == "9080")
        #expect(manager.httpFilters.map(\.name) == ["envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.router"])
        let outbound = try #require(envoy.listeners["virtualOutbound"])
        #expect(outbound.useOriginalDst.value && outbound.address.socketAddress.portValue == 15001)
        #expect(!outbound.hasBindToPort, "virtualOutbound binds: it is where iptables sends traffic")
        let tls = try #require(envoy.listeners["0.0.0.0_443"])
        #expect(tls.listenerFilters.map(\.name) == ["envoy.filters.listener.tls_inspector"])
        #expect(tls.filterChains.map(\.filterChainMatch.serverNames) == [["api.example.com"], ["www.example.org"]])
    }

    @Test func aVirtualHostPerServiceWithEveryShortName() throws {
        let envoy = try EnvoySnapshot(Self.mesh())
        let routes = try #require(envoy.routes["9080"])
        #expect(envoy.routes.keys.sorted() == ["9080"])
        #expect(
            routes.virtualHosts.map(\.name) == [
                "productpage.default.svc.cluster.local:9080", "ratings.prod.svc.cluster.local:9080", "\(reviews):9080", "allow_any",
            ])
        let reviewsHost = routes.virtualHosts[2]
        #expect(
            Set(reviewsHost.domains) == [
                reviews, "\(reviews):9080", "reviews.default.svc", "reviews.default.svc:9080",
                "reviews.default", "reviews.default:9080", "reviews", "reviews:9080",
            ])
        // From `default`, `ratings` would mean ratings.default: only the forms naming prod.
        #expect(!routes.virtualHosts[1].domains.contains("ratings") && routes.virtualHosts[1].domains.contains("ratings.prod"))
        #expect(routes.virtualHosts[3].domains == ["*"])
        #expect(routes.virtualHosts[3].routes[0].route.cluster == "PassthroughCluster")
    }

    @Test func anExternalNameServiceIsMatchedOnItsTargetsVirtualHost() throws {
        // Kubernetes ExternalName `reviews-alias` → reviews (through `old-reviews`), as Istio
        // treats it: no virtual host, cluster or listener of its own; its names on reviews'.
        let base = try Self.mesh()
        var inputs = base.registry
        let platform = PlatformServices(aliases: [
            "reviews-alias.default.svc.cluster.local": "old-reviews.default.svc.cluster.local.",
            "old-reviews.default.svc.cluster.local": reviews,
            "loop-a.default.svc.cluster.local": "loop-b.default.svc.cluster.local",
            "loop-b.default.svc.cluster.local": "loop-a.default.svc.cluster.local",
        ])
        let aliases = ConfigRegistry.build(serviceEntries: [], workloads: [], platform: platform).aliases
        #expect(aliases.isEmpty)  // no concrete service: nothing to alias
        inputs = RegistrySnapshot(
            services: inputs.services, endpoints: inputs.endpoints,
            aliases: [reviews: ["old-reviews.default.svc.cluster.local", "reviews-alias.default.svc.cluster.local"]])
        let push = base.replacing(revision: base.revision, registry: inputs, warnings: base.warnings, invalid: base.invalid, scope: .full)
        let envoy = try EnvoySnapshot(push)
        let routes = try #require(envoy.routes["9080"])
        #expect(routes.virtualHosts.map(\.name).filter { $0.contains("alias") }.isEmpty)
        let reviewsHost = try #require(routes.virtualHosts.first { $0.name == "\(reviews):9080" })
        for name in ["reviews-alias.default.svc.cluster.local", "reviews-alias", "reviews-alias.default:9080", "old-reviews"] {
            #expect(reviewsHost.domains.contains(name), "\(name)")
        }
        #expect(!envoy.clusters.keys.contains { $0.contains("alias") })
    }

    @Test func fromAnotherNamespaceTheShortNameIsLeftOut() throws {
        let envoy = try EnvoySnapshot(Self.mesh(), proxy: EnvoyFixture.proxy(namespace: "prod"))
        let domains = try #require(envoy.routes["9080"]).virtualHosts.flatMap(\.domains)
        #expect(domains.contains("ratings") && domains.contains("ratings:9080"))
        #expect(!domains.contains("reviews") && domains.contains("reviews.default"))
    }

    @Test func registryOnlyBlocksUnknownDestinations() throws {
        let envoy = try EnvoySnapshot(Self.mesh(EnvoyFixture.outboundPolicy("REGISTRY_ONLY")))
        let catchAll = try #require(envoy.routes["9080"]?.virtualHosts.last)
        #expect(catchAll.name == "block_all" && catchAll.routes[0].directResponse.status == 502)
        let proxy = try Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy(
            serializedBytes: #require(envoy.listeners["virtualOutbound"]).defaultFilterChain.filters[0].typedConfig.value)
        #expect(proxy.cluster == "BlackHoleCluster")
        // Both are always sent, whichever the policy picks.
        #expect(envoy.clusters["PassthroughCluster"]?.type == .originalDst)
        #expect(envoy.clusters["PassthroughCluster"]?.lbPolicy == .clusterProvided)
        #expect(envoy.clusters["BlackHoleCluster"]?.type == .static)
        #expect(envoy.clusters["BlackHoleCluster"]?.loadAssignment.endpoints.isEmpty == true)
    }

    @Test func clustersForEveryPortAndSubsetPlusTheProxysOwn() throws {
        let envoy = try EnvoySnapshot(Self.mesh())
        #expect(
            Set(envoy.clusters.keys).isSuperset(of: [
                "outbound|9080||\(reviews)", "outbound|9080|v1|\(reviews)", "outbound|9080|v2|\(reviews)",
                "outbound|3306||mysql.default.svc.cluster.local", "outbound|443||api.example.com",
                "PassthroughCluster", "BlackHoleCluster", "InboundPassthroughCluster", "prometheus_stats",
                "inbound|9081||", "inbound|9000||",
            ]))
        #expect(envoy.clusters["outbound|9080|v2|\(reviews)"]?.type == .eds)
        let inbound = try #require(envoy.clusters["inbound|9081||"])
        #expect(inbound.type == .static)
        #expect(inbound.loadAssignment.endpoints[0].lbEndpoints[0].endpoint.address.socketAddress.address == "127.0.0.1")
        #expect(inbound.loadAssignment.endpoints[0].lbEndpoints[0].endpoint.address.socketAddress.portValue == 9081)
    }

    @Test func inboundChainsPerWorkloadPortThenPassthrough() throws {
        let envoy = try EnvoySnapshot(Self.mesh())
        let inbound = try #require(envoy.listeners["virtualInbound"])
        #expect(inbound.address.socketAddress.portValue == 15006)
        #expect(
            inbound.listenerFilters.map(\.name) == [
                "envoy.filters.listener.original_dst", "envoy.filters.listener.tls_inspector", "envoy.filters.listener.http_inspector",
            ])
        // PERMISSIVE (no PeerAuthentication): the blackhole, five passthrough chains, then
        // three for TCP 9000 and two for HTTP 9081.
        #expect(inbound.filterChains.map(\.filterChainMatch.destinationPort.value) == [15006, 0, 0, 0, 0, 0, 9000, 9000, 9000, 9081, 9081])
        #expect(
            inbound.filterChains.suffix(5).map { $0.filters.last?.name } == [
                "envoy.filters.network.tcp_proxy", "envoy.filters.network.tcp_proxy", "envoy.filters.network.tcp_proxy",
                "envoy.filters.network.http_connection_manager", "envoy.filters.network.http_connection_manager",
            ])
        #expect(!inbound.hasDefaultFilterChain, "what no chain takes is closed, as istiod's virtualInbound does")
        // A sidecar whose address no workload has: passthrough only.
        let stranger = try EnvoySnapshot(
            Self.mesh(),
            proxy: Proxy(
                id: "sidecar~10.9.9.9~x.default~default.svc.cluster.local", kind: .sidecar,
                instanceIPs: ["10.9.9.9"]))
        #expect(stranger.listeners["virtualInbound"]?.filterChains.map(\.name).first == "virtualInbound-blackhole")
        #expect(
            stranger.listeners["virtualInbound"]?.filterChains.allSatisfy {
                !$0.filterChainMatch.hasDestinationPort || $0.filterChainMatch.destinationPort.value == 15006
            } == true)
        #expect(stranger.clusters.keys.filter { $0.hasPrefix("inbound|") }.isEmpty)
        // Its view key differs from app-1's (inbound ports), so the two never share a snapshot.
        let push = try Self.mesh()
        #expect(push.viewKey(for: EnvoyFixture.proxy()).description == "sidecar/default sidecar=none workload-ports=9000,9081")
    }

    /// A gRPC workload is spoken to in HTTP/2 from the inbound side too; an HTTP/1 one is not.
    @Test func inboundClustersSpeakTheWorkloadsProtocol() throws {
        let push = try Self.mesh()
        let grpc = try EnvoySnapshot(
            push,
            proxy: Proxy(
                id: "sidecar~127.0.0.1~reviews-v1.default~default.svc.cluster.local",
                kind: .sidecar, instanceIPs: ["127.0.0.1"]))
        let key = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
        let options = try Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions(
            serializedBytes: #require(grpc.clusters["inbound|9081||"]?.typedExtensionProtocolOptions[key]).value)
        guard case .http2ProtocolOptions? = options.explicitHTTPConfig.protocolConfig else {
            Issue.record("inbound|9081|| (GRPC) does not speak HTTP/2: \(options)")
            return
        }
        #expect(try EnvoySnapshot(push).clusters["inbound|9081||"]?.typedExtensionProtocolOptions[key] == nil, "productpage's port is HTTP/1")
    }

    @Test func healthAndStatsListeners() throws {
        let envoy = try EnvoySnapshot(Self.mesh())
        let health = try envoy.manager("0.0.0.0_15021").routeConfig.virtualHosts[0].routes[0]
        #expect(health.match.path == "/healthz/ready" && health.directResponse.status == 200)
        let stats = try envoy.manager("0.0.0.0_15090").routeConfig.virtualHosts[0].routes[0]
        #expect(stats.match.prefix == "/stats/prometheus" && stats.route.cluster == "prometheus_stats")
        let admin = try #require(envoy.clusters["prometheus_stats"]).loadAssignment.endpoints[0].lbEndpoints[0].endpoint.address.socketAddress
        #expect(admin.address == "127.0.0.1" && admin.portValue == 15000)
    }

    /// Envoy's cross-resource rules hold on every snapshot these scenarios generate.
    @Test(arguments: [
        [], [CanaryFixture.virtualService([("v1", 50), ("v2", 50)])], [CanaryFixture.virtualService([("v1", 0), ("v2", 100)])],
        [EnvoyFixture.outboundPolicy("REGISTRY_ONLY")], [EnvoyFixture.outboundPolicy("ALLOW_ANY")],
    ])
    func envoyInvariantsHold(_ extra: [String]) throws {
        let push = try context([CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]), EnvoyFixture.mesh] + extra)
        for proxy in [EnvoyFixture.proxy(), EnvoyFixture.proxy(namespace: "prod"), Proxy(id: "other", kind: .sidecar)] {
            let snapshot = ProxySnapshot(proxy: proxy, push: push, table: .testing)
            #expect(EnvoyInvariants.violations(in: snapshot) == [], "\(proxy.id) in \(proxy.namespace)")
        }
        // The checker holds proxyless snapshots to the same cross-resource rules.
        #expect(EnvoyInvariants.violations(in: ProxySnapshot(proxy: Proxy(id: "grpc"), push: push, table: .testing)) == [])
    }

    /// The checker can fail: a route to a cluster that was not sent, a second chain with the
    /// same match, a duplicated domain.
    @Test func theInvariantCheckerCatchesBrokenSnapshots() throws {
        let push = try Self.mesh()
        let good = ProxySnapshot(proxy: EnvoyFixture.proxy(), push: push, table: .testing)
        var resources = good.resources
        resources[TypeURL.cluster]?["outbound|9080||\(reviews)"] = nil
        var listener = try Envoy_Config_Listener_V3_Listener(serializedBytes: #require(good.of(TypeURL.listener)["0.0.0.0_5432"]).payload.value)
        listener.filterChains.append(listener.filterChains[0])
        resources[TypeURL.listener]?["0.0.0.0_5432"] = XDSResource(name: "0.0.0.0_5432", message: listener)
        var routes = try Envoy_Config_Route_V3_RouteConfiguration(serializedBytes: #require(good.of(TypeURL.route)["9080"]).payload.value)
        routes.virtualHosts[0].domains.append("Reviews")
        resources[TypeURL.route]?["9080"] = XDSResource(name: "9080", message: routes)
        let problems = EnvoyInvariants.violations(in: ProxySnapshot(revision: 1, resources: resources))
        #expect(problems.contains { $0.contains("cluster outbound|9080||\(reviews) was not sent") })
        #expect(problems.contains { $0.contains("listener 0.0.0.0_5432: filter chains") && $0.contains("have the same match") })
        #expect(
            problems.contains { $0.contains("domain reviews is in virtual hosts productpage.default.svc.cluster.local:9080 and \(reviews):9080") },
            "domains compare case-insensitively")
        #expect(problems.contains { $0.contains("load assignment outbound|9080||\(reviews): no EDS cluster names it") })
    }

    @Test func proxylessClientsKeepTheirShapes() throws {
        let push = try Self.mesh()
        let grpc = ProxySnapshot(proxy: Proxy(id: "grpc"), push: push, table: .testing)
        #expect(grpc.of(TypeURL.listener)["virtualOutbound"] == nil)
        #expect(grpc.of(TypeURL.listener)["\(reviews):9080"] != nil)
        #expect(grpc.of(TypeURL.cluster)["PassthroughCluster"] == nil)
        #expect(grpc.of(TypeURL.route)["9080"] == nil)
        #expect(push.viewKey(for: Proxy(id: "grpc", instanceIPs: ["10.0.0.5"])).inbound.isEmpty)
    }
}

/// ISTIO_MUTUAL for an Envoy sidecar: certificates over SDS from the agent, as istiod sends them.
@Suite struct EnvoyUpstreamTLSTests {
    static let mutual = """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews, namespace: default}
        spec:
          host: reviews
          trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
          subsets: [{name: v1, labels: {version: v1}}]
        """

    @Test func envoyGetsSecretsOverSDSAndGRPCClientsFromCertificateProviders() throws {
        let push = try context([CanaryFixture.registry, Self.mutual])
        let envoy = try EnvoySnapshot(push)
        let cluster = try #require(envoy.clusters["outbound|9080|v1|\(reviews)"])
        let tls = try Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext(serializedBytes: cluster.transportSocket.typedConfig.value)
        #expect(tls.sni == "outbound_.9080_.v1_.\(reviews)")
        let common = tls.commonTlsContext
        #expect(common.tlsCertificateSdsSecretConfigs.map(\.name) == ["default"])
        let source = common.tlsCertificateSdsSecretConfigs[0].sdsConfig.apiConfigSource
        #expect(source.apiType == .grpc && source.transportApiVersion == .v3)
        #expect(source.grpcServices.map(\.envoyGrpc.clusterName) == ["sds-grpc"])
        #expect(common.combinedValidationContext.validationContextSdsSecretConfig.name == "ROOTCA")
        #expect(
            common.combinedValidationContext.defaultValidationContext.matchTypedSubjectAltNames.map(\.matcher.exact)
                == ["spiffe://cluster.local/ns/default/sa/default"])
        #expect(!common.hasTlsCertificateProviderInstance, "Envoy would need a bootstrap provider instance for this")

        let grpc = ProxySnapshot(proxy: Proxy(id: "grpc"), push: push, table: .testing)
        let proxyless = try Envoy_Config_Cluster_V3_Cluster(
            serializedBytes: #require(grpc.of(TypeURL.cluster)["outbound|9080|v1|\(reviews)"]).payload.value)
        let theirs = try Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext(serializedBytes: proxyless.transportSocket.typedConfig.value)
        #expect(theirs.commonTlsContext.tlsCertificateProviderInstance.instanceName == "default")
        #expect(theirs.commonTlsContext.tlsCertificateSdsSecretConfigs.isEmpty && theirs.sni.isEmpty)
    }
}

/// A Sidecar's `ingress` listeners replace the inbound ports the workload's services give.
@Suite struct EnvoySidecarIngressTests {
    static let ingress = """
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: app, namespace: default}
        spec:
          workloadSelector: {labels: {app: productpage}}
          ingress:
          - {port: {number: 9080, protocol: HTTP, name: http}, defaultEndpoint: "127.0.0.1:8080"}
          - {port: {number: 5000, protocol: TCP}, defaultEndpoint: "unix:///var/run/app.sock"}
        """

    @Test func ingressListenersReplaceTheWorkloadsPorts() throws {
        let push = try context([CanaryFixture.registry, EnvoyFixture.mesh, Self.ingress])
        let proxy = Proxy(id: EnvoyFixture.nodeID, kind: .sidecar, labels: ["app": "productpage"], instanceIPs: ["10.0.0.5"])
        let envoy = try EnvoySnapshot(push, proxy: proxy)
        let inbound = try #require(envoy.listeners["virtualInbound"])
        #expect(Set(inbound.filterChains.map(\.filterChainMatch.destinationPort.value)) == [0, 5000, 9080, 15006])
        #expect(!envoy.clusters.keys.contains("inbound|9081||"), "the services' ports are replaced, not added to")
        let http = try #require(envoy.clusters["inbound|9080||"]).loadAssignment.endpoints[0].lbEndpoints[0].endpoint.address
        #expect(http.socketAddress.address == "127.0.0.1" && http.socketAddress.portValue == 8080)
        let socket = try #require(envoy.clusters["inbound|5000||"]).loadAssignment.endpoints[0].lbEndpoints[0].endpoint.address
        #expect(socket.pipe.path == "/var/run/app.sock")
        #expect(EnvoyInvariants.violations(in: envoy.snapshot) == [])

        let simulation = try TrafficSimulation(snapshot: envoy.snapshot)
        let request = SimulatedConnection(.inbound, address: "10.0.0.5", port: 9080, request: .init(authority: "productpage", method: "GET"))
        #expect(simulation.connect(request).outcome == .cluster("inbound|9080||", endpoints: ["127.0.0.1:8080"]))
        #expect(
            simulation.connect(.init(.inbound, address: "10.0.0.5", port: 9081)).outcome
                == .cluster("InboundPassthroughCluster", endpoints: ["10.0.0.5:9081"]))

        // Proxies the Sidecar does not select keep their workload's ports; gRPC clients get nothing inbound.
        #expect(try EnvoySnapshot(push).clusters.keys.contains("inbound|9081||"))
        #expect(
            ProxySnapshot(proxy: Proxy(id: "grpc", labels: ["app": "productpage"]), push: push, table: .testing).of(TypeURL.cluster)["inbound|9080||"]
                == nil)
    }
}

/// Auto mTLS: mesh mTLS to the endpoints with a sidecar, plaintext to the others, for services
/// inside the mesh whose DestinationRule says nothing about TLS.
@Suite struct EnvoyAutoMTLSTests {
    static func mesh(location: String, rule: String = "") -> [String] {
        [
            """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: details, namespace: default}
            spec:
              hosts: [details.default.svc.cluster.local]
              location: \(location)
              ports: [{number: 9080, name: http, protocol: HTTP}]
              resolution: STATIC
              endpoints:
              - {address: 10.1.0.1, labels: {security.istio.io/tlsMode: istio}, serviceAccount: details}
              - {address: 10.1.0.2}
            """
        ] + (rule.isEmpty ? [] : [rule])
    }

    static let cluster = "outbound|9080||details.default.svc.cluster.local"

    @Test func endpointsWithASidecarGetMeshMTLS() throws {
        let push = try context(Self.mesh(location: "MESH_INTERNAL"))
        let envoy = try EnvoySnapshot(push)
        let cluster = try #require(envoy.clusters[Self.cluster])
        #expect(!cluster.hasTransportSocket)
        #expect(cluster.transportSocketMatches.map(\.name) == ["tlsMode-istio", "tlsMode-disabled"])
        #expect(cluster.transportSocketMatches[0].match.fields["tlsMode"]?.stringValue == "istio")
        let tls = try Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext(
            serializedBytes: cluster.transportSocketMatches[0].transportSocket.typedConfig.value)
        #expect(tls.commonTlsContext.tlsCertificateSdsSecretConfigs.map(\.name) == ["default"])
        #expect(tls.sni == "outbound_.9080_._.details.default.svc.cluster.local")
        #expect(cluster.transportSocketMatches[1].match.fields.isEmpty)
        #expect(cluster.transportSocketMatches[1].transportSocket.name == "envoy.transport_sockets.raw_buffer")

        let assignment = try Envoy_Config_Endpoint_V3_ClusterLoadAssignment(
            serializedBytes: #require(envoy.snapshot.of(TypeURL.endpoint)[Self.cluster]).payload.value)
        let marked = assignment.endpoints.flatMap(\.lbEndpoints).map {
            ($0.endpoint.address.socketAddress.address, $0.metadata.filterMetadata["envoy.transport_socket_match"]?.fields["tlsMode"]?.stringValue)
        }
        #expect(marked.map(\.0) == ["10.1.0.1", "10.1.0.2"] && marked.map(\.1) == ["istio", nil])

        // gRPC clients get neither the matches nor the metadata: their bytes do not change.
        let grpc = ProxySnapshot(proxy: Proxy(id: "grpc"), push: push, table: .testing)
        let theirs = try Envoy_Config_Cluster_V3_Cluster(serializedBytes: #require(grpc.of(TypeURL.cluster)[Self.cluster]).payload.value)
        #expect(theirs.transportSocketMatches.isEmpty)
        let theirAssignment = try Envoy_Config_Endpoint_V3_ClusterLoadAssignment(
            serializedBytes: #require(grpc.of(TypeURL.endpoint)[Self.cluster]).payload.value)
        #expect(theirAssignment.endpoints.flatMap(\.lbEndpoints).allSatisfy { !$0.hasMetadata })
    }

    @Test func outsideTheMeshOrWithATLSSettingThereIsNone() throws {
        let disable = """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: details, namespace: default}
            spec: {host: details, trafficPolicy: {tls: {mode: DISABLE}}}
            """
        for texts in [Self.mesh(location: "MESH_EXTERNAL"), Self.mesh(location: "MESH_INTERNAL", rule: disable)] {
            let envoy = try EnvoySnapshot(try context(texts))
            let cluster = try #require(envoy.clusters[Self.cluster])
            #expect(cluster.transportSocketMatches.isEmpty && !cluster.hasTransportSocket)
        }
    }
}

extension EnvoySidecarTests {
    /// A TCP service without a virtual IP shares `0.0.0.0_PORT`; its VirtualService's `tcp[]`
    /// rules still decide where its connections go (they were once skipped there).
    @Test func tcpRulesOfAServiceWithoutAVirtualIPApplyOnTheSharedPort() throws {
        let rule = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: legacy, namespace: default}
            spec:
              hosts: [legacy.default.svc.cluster.local]
              tcp:
              - route:
                - {destination: {host: legacy.default.svc.cluster.local}, weight: 20}
                - {destination: {host: mysql.default.svc.cluster.local, port: {number: 3306}}, weight: 80}
            """
        let envoy = try EnvoySnapshot(Self.mesh(rule))
        let listener = try #require(envoy.listeners["0.0.0.0_5432"])
        #expect(Set(listener.filterChains.map(\.name)).count == listener.filterChains.count, "chain names stay unique")
        let plain = try #require(listener.filterChains.first { !$0.hasFilterChainMatch })
        #expect(plain.name == "outbound|5432||legacy.default.svc.cluster.local/tcp[0]")
        let proxy = try Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy(serializedBytes: plain.filters[0].typedConfig.value)
        #expect(
            proxy.weightedClusters.clusters.map(\.name) == [
                "outbound|5432||legacy.default.svc.cluster.local", "outbound|3306||mysql.default.svc.cluster.local",
            ])
        #expect(proxy.weightedClusters.clusters.map(\.weight) == [20, 80])
        // The subnet service on the same port keeps its own prefix-matched chain.
        #expect(listener.filterChains.contains { $0.filterChainMatch.prefixRanges.first?.addressPrefix == "192.168.10.0" })
        #expect(EnvoyInvariants.violations(in: envoy.snapshot).isEmpty)
    }
}

import EnvoyAPI
import MeshModel
import MeshTesting
import SwiftProtobuf
import Testing

@testable import Translator

/// Builds a PushContext from YAML the way meshd does.
func pushContext(_ texts: String...) throws -> PushContext {
    var inputs: [PushContextBuilder.Input] = []
    for text in texts {
        for (index, resource) in try ConfigDocumentParser.parse(text).enumerated() {
            inputs.append(.init(key: resource.key, createdRevision: Int64(index + 1), config: try ConfigValidator.validate(resource)))
        }
    }
    return PushContextBuilder.build(revision: 1, inputs: inputs)
}

func decode<M: SwiftProtobuf.Message>(_ type: M.Type, _ resource: XDSResource) throws -> M {
    try M(serializedBytes: resource.payload.value)
}

let host = "reviews.default.svc.cluster.local"
let proxy = Proxy(id: "test")

@Suite struct RouteGeneratorTests {
    @Test func weightedSplitNamesBothSubsetClusters() throws {
        let push = try pushContext(
            CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            CanaryFixture.virtualService([("v1", 50), ("v2", 50)]))
        let routes = GeneratorTable.testing.resources(TypeURL.route, for: proxy, in: push)
        #expect(routes.map(\.name) == ["\(host):9080"])
        let config = try decode(Envoy_Config_Route_V3_RouteConfiguration.self, routes[0])
        let route = try #require(config.virtualHosts.first?.routes.first)
        #expect(config.virtualHosts[0].domains.contains("\(host):9080"))
        let weighted = route.route.weightedClusters.clusters
        #expect(weighted.map(\.name) == ["outbound|9080|v1|\(host)", "outbound|9080|v2|\(host)"])
        #expect(weighted.map(\.weight.value) == [50, 50])
        #expect(Set(routes[0].dependencies) == Set(weighted.map(\.name)))
    }

    @Test func zeroWeightDestinationIsLeftOutAndSingleClusterIsDirect() throws {
        let push = try pushContext(
            CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            CanaryFixture.virtualService([("v1", 0), ("v2", 100)]))
        let config = try decode(
            Envoy_Config_Route_V3_RouteConfiguration.self, GeneratorTable.testing.resources(TypeURL.route, for: proxy, in: push)[0])
        #expect(config.virtualHosts[0].routes[0].route.cluster == "outbound|9080|v2|\(host)")
    }

    @Test func undefinedSubsetIsNeverRoutedToAndWarned() throws {
        let push = try pushContext(
            CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1"]),
            CanaryFixture.virtualService([("v1", 50), ("v3", 50)]))
        let config = try decode(
            Envoy_Config_Route_V3_RouteConfiguration.self, GeneratorTable.testing.resources(TypeURL.route, for: proxy, in: push)[0])
        #expect(config.virtualHosts[0].routes[0].route.cluster == "outbound|9080|v1|\(host)")
        #expect(push.warnings.contains { $0.field == "spec.http[0].route[1].destination.subset" && $0.message.contains("v3") })

        let none = try pushContext(CanaryFixture.registry, CanaryFixture.virtualService([("v3", 100)]))
        let blackholed = try decode(
            Envoy_Config_Route_V3_RouteConfiguration.self, GeneratorTable.testing.resources(TypeURL.route, for: proxy, in: none)[0])
        #expect(blackholed.virtualHosts[0].routes[0].directResponse.status == 503)
        let clusters = Set(GeneratorTable.testing.resources(TypeURL.cluster, for: proxy, in: none).map(\.name))
        #expect(!clusters.contains("outbound|9080|v3|\(host)"))
    }

    @Test func headerAndPathMatchesBecomeRouteMatchesInOrder() throws {
        let vs = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews}
            spec:
              hosts: [reviews]
              http:
              - match: [{headers: {end-user: {exact: jason}}, uri: {prefix: /reviews.Reviews/}}]
                route: [{destination: {host: reviews, subset: v2}}]
              - route: [{destination: {host: reviews, subset: v1}}]
            """
        let push = try pushContext(CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]), vs)
        let routes = try decode(
            Envoy_Config_Route_V3_RouteConfiguration.self, GeneratorTable.testing.resources(TypeURL.route, for: proxy, in: push)[0]
        )
        .virtualHosts[0].routes
        #expect(routes.count == 2)
        #expect(routes[0].match.prefix == "/reviews.Reviews/")
        #expect(routes[0].match.headers.map(\.name) == ["end-user"])
        #expect(routes[0].match.headers[0].stringMatch.exact == "jason")
        #expect(routes[0].route.cluster == "outbound|9080|v2|\(host)")
        #expect(routes[1].match.prefix == "/")
        #expect(routes[1].route.cluster == "outbound|9080|v1|\(host)")
    }

    @Test func hostWithoutVirtualServiceGetsOneDefaultRoute() throws {
        let push = try pushContext(CanaryFixture.registry)
        let route = try decode(
            Envoy_Config_Route_V3_RouteConfiguration.self, GeneratorTable.testing.resources(TypeURL.route, for: proxy, in: push)[0]
        )
        .virtualHosts[0].routes
        #expect(route.count == 1)
        #expect(route[0].route.cluster == "outbound|9080||\(host)")
    }
}

@Suite struct ClusterEndpointListenerTests {
    @Test func clustersPerPortAndSubsetUseEDSOverADS() throws {
        let push = try pushContext(CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]))
        let clusters = GeneratorTable.testing.resources(TypeURL.cluster, for: proxy, in: push)
        #expect(Set(clusters.map(\.name)) == ["outbound|9080||\(host)", "outbound|9080|v1|\(host)", "outbound|9080|v2|\(host)"])
        let cluster = try decode(Envoy_Config_Cluster_V3_Cluster.self, clusters[1])
        #expect(cluster.type == .eds)
        #expect(cluster.edsClusterConfig.serviceName == clusters[1].name)
        #expect(cluster.edsClusterConfig.edsConfig.ads == Envoy_Config_Core_V3_AggregatedConfigSource())
        #expect(cluster.lbPolicy == .roundRobin)
    }

    /// gRPC's CSM observability labels client metrics from this metadata; meshd names the
    /// cluster itself, so a metric names host, port and subset as Envoy's cluster stats do.
    @Test func proxylessClustersCarryTheCSMTelemetryLabels() throws {
        let push = try pushContext(CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]))
        for resource in GeneratorTable.testing.resources(TypeURL.cluster, for: proxy, in: push) {
            let cluster = try decode(Envoy_Config_Cluster_V3_Cluster.self, resource)
            let labels = try #require(cluster.metadata.filterMetadata["com.google.csm.telemetry_labels"])
            #expect(labels.fields["service_name"]?.stringValue == resource.name)
            #expect(labels.fields["service_namespace"]?.stringValue == "default")
        }
    }

    @Test func endpointsAreSelectedBySubsetLabelsWithLocalityWeights() throws {
        let push = try pushContext(CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]))
        let assignments = Dictionary(
            uniqueKeysWithValues: GeneratorTable.testing.resources(TypeURL.endpoint, for: proxy, in: push).map { ($0.name, $0) })
        let v2 = try decode(Envoy_Config_Endpoint_V3_ClusterLoadAssignment.self, try #require(assignments["outbound|9080|v2|\(host)"]))
        #expect(v2.endpoints.count == 1)
        #expect(v2.endpoints[0].locality.region == "us-east")
        #expect(v2.endpoints[0].loadBalancingWeight.value == 1)
        #expect(v2.endpoints[0].lbEndpoints.map(\.endpoint.address.socketAddress.portValue) == [9082])
        let all = try decode(Envoy_Config_Endpoint_V3_ClusterLoadAssignment.self, try #require(assignments["outbound|9080||\(host)"]))
        #expect(all.endpoints[0].lbEndpoints.count == 2)
        #expect(all.endpoints[0].loadBalancingWeight.value == 2)
    }

    @Test func apiListenerPerHostPortWithRDSAndRouterLast() throws {
        let push = try pushContext(CanaryFixture.registry)
        let listeners = GeneratorTable.testing.resources(TypeURL.listener, for: proxy, in: push)
        #expect(listeners.map(\.name) == ["\(host):9080"])
        let listener = try decode(Envoy_Config_Listener_V3_Listener.self, listeners[0])
        let manager = try Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager(
            unpackingAny: listener.apiListener.apiListener)
        #expect(manager.rds.routeConfigName == "\(host):9080")
        #expect(manager.httpFilters.last?.name == "envoy.filters.http.router")
        #expect(manager.httpFilters.last?.typedConfig.typeURL == "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router")
    }

    @Test func versionsDeriveFromContent() throws {
        let a = GeneratorTable.testing.resources(TypeURL.cluster, for: proxy, in: try pushContext(CanaryFixture.registry))
        let b = GeneratorTable.testing.resources(TypeURL.cluster, for: proxy, in: try pushContext(CanaryFixture.registry))
        #expect(a.map(\.version) == b.map(\.version))
        #expect(ContentVersion.of(a) == ContentVersion.of(b.reversed()))
    }
}

@Suite struct RoutePolicyTests {
    @Test func timeoutAndRetriesReachTheRoute() throws {
        let vs = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews}
            spec:
              hosts: [reviews]
              http:
              - route: [{destination: {host: reviews}}]
                timeout: 2.5s
                retries: {attempts: 3, perTryTimeout: 500ms}
            """
        let push = try pushContext(CanaryFixture.registry, vs)
        let action = try decode(
            Envoy_Config_Route_V3_RouteConfiguration.self, GeneratorTable.testing.resources(TypeURL.route, for: proxy, in: push)[0]
        )
        .virtualHosts[0].routes[0].route
        #expect(action.cluster == "outbound|9080||\(host)")
        #expect(action.maxStreamDuration.maxStreamDuration == Google_Protobuf_Duration(seconds: 2, nanos: 500_000_000))
        #expect(action.timeout == Google_Protobuf_Duration(seconds: 2, nanos: 500_000_000))
        #expect(action.retryPolicy.numRetries.value == 3)
        #expect(action.retryPolicy.perTryTimeout == Google_Protobuf_Duration(seconds: 0, nanos: 500_000_000))
        #expect(action.retryPolicy.retryOn.contains("unavailable"))
    }
}

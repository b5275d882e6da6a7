import EnvoyAPI
import MeshModel
import MeshTesting
import Testing

@testable import Translator

/// Config that validation now refuses can still be in a store written by an older meshd, or be
/// combined across resources by two racing writers. The translator must never trap on it, and
/// what it sends must still be acceptable to Envoy and gRPC: weight sums within uint32.
@Suite struct WeightScalingTests {
    @Test func overflowingRouteWeightsAreScaledNotTrapped() throws {
        var push = try pushContext(
            CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            CanaryFixture.virtualService([("v1", 50), ("v2", 50)]))
        // What an older meshd stored: weights past int32, and two destinations of one cluster.
        let destinations = [("v1", Int.max), ("v1", Int(UInt32.max)), ("v2", Int(UInt32.max))].map { subset, weight in
            HTTPRouteDestination(destination: Destination(host: "reviews", subset: subset), weight: weight)
        }
        let entry = try #require(push.virtualServices[host]?.first)
        var spec = entry.spec
        spec.http = [HTTPRoute(route: destinations)]
        push = PushContext(
            revision: 2, registry: push.registry,
            virtualServices: [host: [.init(key: entry.key, createdRevision: 1, spec: spec)]],
            destinationRules: push.destinationRules, warnings: [])
        let routes = GeneratorTable.testing.resources(TypeURL.route, for: proxy, in: push)
        let config = try decode(Envoy_Config_Route_V3_RouteConfiguration.self, routes[0])
        let weights = try #require(config.virtualHosts.first?.routes.first).route.weightedClusters.clusters.map(\.weight.value)
        #expect(weights.count == 2)
        #expect(weights.allSatisfy { $0 > 0 })
        #expect(weights.reduce(UInt64(0)) { $0 + UInt64($1) } <= UInt64(UInt32.max))
    }

    @Test func workloadWeightsThatOverflowTogetherAreScaledAndReported() throws {
        let heavy = """
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata: {name: reviews-v3, namespace: default}
            spec: {address: 127.0.0.2, ports: {grpc: 9083}, labels: {app: reviews, version: v3}, locality: us-east/zone-a, weight: 4294967295}
            ---
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata: {name: reviews-v4, namespace: default}
            spec: {address: 127.0.0.3, ports: {grpc: 9084}, labels: {app: reviews, version: v4}, locality: us-west/zone-b, weight: 4294967295}
            """
        let push = try pushContext(CanaryFixture.registry, heavy)
        #expect(push.registry.weightOverflows[host]?.workloads.count == 4)
        #expect(push.warnings.contains { $0.key.name == "reviews" && $0.field == "spec.workloadSelector" })

        let assignments = GeneratorTable.testing.resources(TypeURL.endpoint, for: proxy, in: push)
        let cla = try decode(
            Envoy_Config_Endpoint_V3_ClusterLoadAssignment.self,
            try #require(assignments.first { $0.name == "outbound|9080||\(host)" }))
        var localityTotal: UInt64 = 0
        for locality in cla.endpoints {
            let endpointTotal = locality.lbEndpoints.reduce(UInt64(0)) { $0 + UInt64($1.loadBalancingWeight.value) }
            #expect(endpointTotal <= UInt64(UInt32.max))
            #expect(locality.lbEndpoints.allSatisfy { $0.loadBalancingWeight.value >= 1 })
            #expect(UInt64(locality.loadBalancingWeight.value) == endpointTotal)
            localityTotal += UInt64(locality.loadBalancingWeight.value)
        }
        #expect(localityTotal <= UInt64(UInt32.max))
        // The ratio survives scaling: the two heavy endpoints still dominate the two light ones.
        let weights = cla.endpoints.flatMap(\.lbEndpoints).map(\.loadBalancingWeight.value).sorted()
        #expect(weights.last! > 1_000 * weights.first!)
    }

    @Test func fittingLeavesValidWeightsAlone() {
        #expect(WeightScaling.fitted([[1, 2], [3]]) == [[1, 2], [3]])
        let fitted = WeightScaling.fitted([[UInt32.max, UInt32.max, 1]])
        #expect(fitted[0].reduce(UInt64(0)) { $0 + UInt64($1) } <= UInt64(UInt32.max))
        #expect(fitted[0].allSatisfy { $0 >= 1 })
    }
}

import EnvoyAPI
import MeshModel
import MeshTesting
import SwiftProtobuf
import Testing

@testable import Translator

/// Locality load balancing, endpoint health and ServiceEntry resolution as the EDS and CDS a
/// proxyless client receives, against Istio's documented semantics.
@Suite struct LocalityLoadBalancingTests {
    /// `reviews` with one workload in each of four localities relative to a proxy in
    /// us-east/zone-a/sub-1: same subzone, same zone, same region, other regions.
    private let registry = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: reviews, namespace: default}
        spec:
          hosts: [reviews.default.svc.cluster.local]
          ports: [{number: 9080, name: grpc, protocol: GRPC}]
          resolution: STATIC
          workloadSelector: {labels: {app: reviews}}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: same-subzone, namespace: default}
        spec: {address: 10.0.0.1, labels: {app: reviews, tier: gold}, locality: us-east/zone-a/sub-1}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: same-zone, namespace: default}
        spec: {address: 10.0.0.2, labels: {app: reviews, tier: gold}, locality: us-east/zone-a/sub-2}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: same-region, namespace: default}
        spec: {address: 10.0.0.3, labels: {app: reviews, tier: silver}, locality: us-east/zone-b}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: west, namespace: default}
        spec: {address: 10.0.0.4, labels: {app: reviews, tier: gold}, locality: us-west/zone-c}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: europe, namespace: default}
        spec: {address: 10.0.0.5, labels: {app: reviews, tier: gold}, locality: eu-central/zone-d, weight: 3}
        """

    private func rule(_ policy: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews, namespace: default}
        spec: {host: reviews, trafficPolicy: \(policy)}
        """
    }

    private let here = Locality(region: "us-east", zone: "zone-a", subZone: "sub-1")

    /// Address → (priority, locality weight) in the assignment the proxy receives.
    private func priorities(_ texts: [String], proxy: Proxy) throws -> [String: (priority: UInt32, weight: UInt32)] {
        let push = try pushContextFrom(texts)
        let name = "outbound|9080||\(host)"
        let view = ProxyView(key: push.viewKey(for: proxy), push: push)
        let resource = try #require(GeneratorTable.testing.resources(TypeURL.endpoint, for: view, in: push).first { $0.name == name })
        let cla = try decode(Envoy_Config_Endpoint_V3_ClusterLoadAssignment.self, resource)
        var result: [String: (priority: UInt32, weight: UInt32)] = [:]
        for group in cla.endpoints {
            for endpoint in group.lbEndpoints {
                result[endpoint.endpoint.address.socketAddress.address] = (group.priority, group.loadBalancingWeight.value)
            }
        }
        return result
    }

    private func priorityOf(_ texts: [String], proxy: Proxy) throws -> [String: UInt32] {
        try priorities(texts, proxy: proxy).mapValues(\.priority)
    }

    @Test func outlierDetectionAloneGivesIstiosDefaultFailoverByLocality() throws {
        let got = try priorityOf([registry, rule("{outlierDetection: {consecutive5xxErrors: 5}}")], proxy: Proxy(id: "p", locality: here))
        #expect(got == ["10.0.0.1": 0, "10.0.0.2": 1, "10.0.0.3": 2, "10.0.0.4": 3, "10.0.0.5": 3])
    }

    @Test func failoverNamesTheRegionToTryBeforeAnyOther() throws {
        let policy = "{loadBalancer: {localityLbSetting: {failover: [{from: us-east, to: eu-central}]}}, outlierDetection: {consecutive5xxErrors: 5}}"
        let got = try priorityOf([registry, rule(policy)], proxy: Proxy(id: "p", locality: here))
        #expect(got == ["10.0.0.1": 0, "10.0.0.2": 1, "10.0.0.3": 2, "10.0.0.5": 3, "10.0.0.4": 4])
    }

    @Test func withoutOutlierDetectionOrWhenDisabledEverythingStaysAtPriorityZero() throws {
        let proxy = Proxy(id: "p", locality: here)
        let noOutlier = try priorityOf(
            [registry, rule("{loadBalancer: {localityLbSetting: {failover: [{from: us-east, to: us-west}]}}}")], proxy: proxy)
        #expect(Set(noOutlier.values) == [0])
        let disabled = try priorityOf(
            [registry, rule("{loadBalancer: {localityLbSetting: {enabled: false}}, outlierDetection: {consecutive5xxErrors: 5}}")], proxy: proxy)
        #expect(Set(disabled.values) == [0])
        // A proxy that sent no locality cannot be placed: no priorities either.
        let unknown = try priorityOf([registry, rule("{outlierDetection: {consecutive5xxErrors: 5}}")], proxy: Proxy(id: "p"))
        #expect(Set(unknown.values) == [0])
    }

    @Test func failoverPriorityOrdersByLabelsTheProxyShares() throws {
        let policy =
            "{loadBalancer: {localityLbSetting: {failoverPriority: [tier, topology.kubernetes.io/region]}}, outlierDetection: {consecutive5xxErrors: 5}}"
        let proxy = Proxy(id: "p", labels: ["tier": "gold"], locality: here)
        let got = try priorityOf([registry, rule(policy)], proxy: proxy)
        // Both labels match → 0; region differs → 1; tier differs (the first label) → 2.
        #expect(got == ["10.0.0.1": 0, "10.0.0.2": 0, "10.0.0.4": 1, "10.0.0.5": 1, "10.0.0.3": 2])
    }

    @Test func distributeSharesEachDestinationPercentageAmongItsLocalities() throws {
        let policy = "{loadBalancer: {localityLbSetting: {distribute: [{from: us-east/*, to: {us-east/*: 80, eu-central/*: 20}}]}}}"
        let got = try priorities([registry, rule(policy)], proxy: Proxy(id: "p", locality: here))
        // us-west gets nothing and is left out; each us-east locality (weight 1 of 3) gets ceil(80/3).
        #expect(got["10.0.0.4"] == nil)
        #expect(got["10.0.0.1"]?.weight == 27 && got["10.0.0.2"]?.weight == 27 && got["10.0.0.3"]?.weight == 27)
        #expect(got["10.0.0.5"]?.weight == 20)
        #expect(Set(got.values.map(\.priority)) == [0])
        // A proxy elsewhere matches no `from`: the assignment is unchanged.
        let elsewhere = try priorities([registry, rule(policy)], proxy: Proxy(id: "p", locality: .init(region: "ap-south")))
        #expect(elsewhere.count == 5 && elsewhere["10.0.0.5"]?.weight == 3)
    }

    @Test func theViewKeyCarriesTheLocalityOnlyWhenSomeRuleNeedsIt() throws {
        let proxy = Proxy(id: "p", labels: ["tier": "gold", "other": "x"], locality: here)
        let plain = try pushContextFrom([registry])
        #expect(plain.viewKey(for: proxy).locality == nil)
        let aware = try pushContextFrom([registry, rule("{outlierDetection: {consecutive5xxErrors: 5}}")])
        #expect(aware.viewKey(for: proxy).locality == here)
        let labelled = try pushContextFrom([
            registry, rule("{loadBalancer: {localityLbSetting: {failoverPriority: [tier, topology.kubernetes.io/zone]}}, outlierDetection: {}}"),
        ])
        #expect(labelled.viewKey(for: proxy).priorityLabels == ["tier": "gold", "topology.kubernetes.io/zone": "zone-a"])
    }

    @Test func failoverWithoutOutlierDetectionIsAcceptedWithIstiosWarning() throws {
        let push = try pushContextFrom([registry, rule("{loadBalancer: {localityLbSetting: {failover: [{from: a, to: b}]}}}")])
        #expect(
            push.warnings.contains {
                $0.field == "spec.trafficPolicy.loadBalancer.localityLbSetting"
                    && $0.message == "outlier detection policy must be provided for failover"
            })
    }

    @Test func drainingAndUnhealthyEndpointsAreSentWithTheirStatus() throws {
        let draining = PushContextBuilder.Input(
            key: ConfigKey(kind: .workloadEntry, namespace: "default", name: "draining"), createdRevision: 10,
            annotations: [HealthStatus.annotation: "draining"],
            config: .workloadEntry(WorkloadEntry(address: "10.0.0.9", labels: ["app": "reviews"])))
        var inputs: [PushContextBuilder.Input] = []
        for resource in try ConfigDocumentParser.parse(registry) {
            inputs.append(.init(key: resource.key, createdRevision: 1, config: try ConfigValidator.validate(resource)))
        }
        let push = PushContextBuilder.build(revision: 1, inputs: inputs + [draining])
        let resource = try #require(
            GeneratorTable.testing.resources(TypeURL.endpoint, for: ProxyView(key: push.viewKey(for: proxy), push: push), in: push).first)
        let statuses = try decode(Envoy_Config_Endpoint_V3_ClusterLoadAssignment.self, resource).endpoints
            .flatMap(\.lbEndpoints).map { ($0.endpoint.address.socketAddress.address, $0.healthStatus) }
        #expect(statuses.first { $0.0 == "10.0.0.9" }?.1 == .draining)
        #expect(statuses.filter { $0.0 != "10.0.0.9" }.allSatisfy { $0.1 == .healthy })
    }
}

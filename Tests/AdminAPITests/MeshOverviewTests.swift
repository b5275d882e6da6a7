import Foundation
import MeshModel
import MeshTesting
import PushPipeline
import Testing
import Translator
import XDS
import XDSCore

@testable import AdminAPI

/// `/api/v1/overview`'s pure part: services, subsets with their weights per route, workloads
/// with health and subset membership, and proxies with their sync state and NACKs.
@Suite struct MeshOverviewTests {
    static let host = "reviews.default.svc.cluster.local"

    /// A PushContext from YAML the way meshd builds one (health annotations included).
    static func push(_ texts: String...) throws -> PushContext {
        var inputs: [PushContextBuilder.Input] = []
        for text in texts {
            for resource in try ConfigDocumentParser.parse(text) {
                inputs.append(
                    .init(
                        key: resource.key, createdRevision: Int64(inputs.count + 1), annotations: resource.annotations,
                        config: try ConfigValidator.validate(resource)))
            }
        }
        return PushContextBuilder.build(revision: 7, inputs: inputs)
    }

    static func service(_ overview: JSONValue, _ host: String = host) -> JSONValue? {
        overview["services"]?.arrayValue?.first { $0["host"]?.stringValue == host }
    }

    static func weights(_ service: JSONValue?, subset: String) -> [Int] {
        service?["subsets"]?.arrayValue?.first { $0["name"]?.stringValue == subset }?["weights"]?.arrayValue?
            .compactMap { $0["weight"]?.intValue } ?? []
    }

    @Test func canarySubsetsCarryTheVirtualServiceWeights() throws {
        let push = try Self.push(
            CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            CanaryFixture.virtualService([("v1", 80), ("v2", 20)]))
        let overview = MeshOverview.make(push: push, proxies: [])
        #expect(overview["revision"]?.intValue == 7)
        let reviews = Self.service(overview)
        #expect(reviews?["namespace"]?.stringValue == "default")
        #expect(reviews?["virtualService"]?.stringValue == "default/reviews")
        #expect(reviews?["destinationRule"]?.stringValue == "default/reviews")
        #expect(reviews?["ports"]?[0]?["number"]?.intValue == 9080)
        #expect(reviews?["ports"]?[0]?["protocol"]?.stringValue == "GRPC")
        #expect(Self.weights(reviews, subset: "v1") == [80])
        #expect(Self.weights(reviews, subset: "v2") == [20])
        #expect(reviews?["subsets"]?[0]?["labels"]?["version"]?.stringValue == "v1")
        let route = reviews?["routes"]?[0]
        #expect(route?["route"]?.stringValue == "http[0]")
        #expect(route?["destinations"]?[1]?["host"]?.stringValue == Self.host)
        #expect(route?["destinations"]?[1]?["subset"]?.stringValue == "v2")
    }

    @Test func workloadsListHealthAddressAndSubsetMembership() throws {
        let registry = CanaryFixture.registry.replacingOccurrences(
            of: "metadata: {name: reviews-v2, namespace: default}",
            with: "metadata: {name: reviews-v2, namespace: default, annotations: {meshd.io/health: DRAINING}}")
        let push = try Self.push(registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]))
        let workloads = Self.service(MeshOverview.make(push: push, proxies: []))?["workloads"]?.arrayValue ?? []
        #expect(workloads.map { $0["name"]?.stringValue } == ["default/reviews-v1", "default/reviews-v2"])
        #expect(workloads.map { $0["health"]?.stringValue } == ["HEALTHY", "DRAINING"])
        #expect(workloads.map { $0["subsets"] } == [.array([.string("v1")]), .array([.string("v2")])])
        #expect(workloads[0]["address"]?.stringValue == "127.0.0.1")
        #expect(workloads[0]["labels"]?["version"]?.stringValue == "v1")
        #expect(workloads[0]["ports"]?[0] == .object(["service": .number(9080), "target": .number(9081)]))
        #expect(workloads[0]["locality"]?.stringValue == "us-east/zone-a")
        #expect(workloads[0]["kind"]?.stringValue == "WorkloadEntry")
    }

    @Test func severalRoutesGiveOneWeightPerRouteAndALoneDestinationTakesAll() throws {
        let virtualService = """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews, namespace: default}
            spec:
              hosts: [reviews]
              http:
              - name: testers
                match: [{headers: {x-tester: {exact: "yes"}}}]
                route: [{destination: {host: reviews, subset: v2}}]
              - route: [{destination: {host: reviews, subset: v1}, weight: 90}, {destination: {host: reviews, subset: v2}, weight: 10}]
            """
        let push = try Self.push(CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]), virtualService)
        let reviews = Self.service(MeshOverview.make(push: push, proxies: []))
        #expect(Self.weights(reviews, subset: "v1") == [0, 90])
        #expect(Self.weights(reviews, subset: "v2") == [100, 10])
        #expect(reviews?["routes"]?[0]?["name"]?.stringValue == "testers")
        #expect(reviews?["routes"]?[0]?["matched"]?.boolValue == true)
        #expect(reviews?["routes"]?[1]?["matched"]?.boolValue == false)
    }

    @Test func aServiceWithoutRoutingHasNoWeights() throws {
        let push = try Self.push(CanaryFixture.registry)
        let reviews = Self.service(MeshOverview.make(push: push, proxies: []))
        #expect(reviews?["virtualService"] == .null)
        #expect(reviews?["destinationRule"] == .null)
        #expect(reviews?["subsets"]?.arrayValue?.isEmpty == true)
        #expect(reviews?["routes"]?.arrayValue?.isEmpty == true)
        #expect(reviews?["workloads"]?.arrayValue?.count == 2)
    }

    @Test func beforeTheFirstBuildThereAreNoServices() {
        let overview = MeshOverview.make(push: nil, proxies: [])
        #expect(overview["revision"] == .null)
        #expect(overview["services"] == .array([]))
    }

    @Test func proxiesShowSyncStatePerTypeAndNackMessages() {
        let entry = JSONValue.object([
            "proxyID": "client-1", "kind": "proxyless", "namespace": "default", "protocol": "sotw", "synced": false,
            "replica": "meshd-b",
            "types": .object([
                "LDS": .object(["status": "SYNCED", "ackedVersion": "3"]),
                "RDS": .object(["status": "STALE", "error": "route reviews: weights sum to 0"]),
                "CDS": .object(["status": "NOT SENT"]),
            ]),
        ])
        let proxies =
            MeshOverview.make(push: nil, proxies: [entry, .object(["proxyID": "a-sidecar", "kind": "sidecar"])])["proxies"]?.arrayValue ?? []
        #expect(proxies.map { $0["proxyID"]?.stringValue } == ["a-sidecar", "client-1"])
        let client = proxies[1]
        #expect(client["kind"]?.stringValue == "proxyless")
        #expect(client["namespace"]?.stringValue == "default")
        #expect(client["replica"]?.stringValue == "meshd-b")
        #expect(client["types"]?["LDS"]?["status"]?.stringValue == "SYNCED")
        #expect(client["types"]?["RDS"]?["status"]?.stringValue == "STALE")
        #expect(client["types"]?["RDS"]?["nack"]?.stringValue == "route reviews: weights sum to 0")
        #expect(client["types"]?["CDS"]?["status"]?.stringValue == "NOT SENT")
        #expect(client["nacks"] == .array([.object(["type": "RDS", "message": "route reviews: weights sum to 0"])]))
        #expect(proxies[0]["nacks"] == .array([]))
    }

    @Test func liveProxyStatusesReachTheOverview() {
        let statuses = ProxyStatusRegistry()
        statuses.update(connectionID: "conn-1", connectedAt: .now, machine: StreamStateMachine(streamID: "conn-1"))
        let proxies = MeshOverview.make(push: nil, proxies: SynczEntries.local(statuses))["proxies"]?.arrayValue ?? []
        #expect(proxies.map { $0["proxyID"]?.stringValue } == ["conn-1"])
        #expect(proxies.first?["protocol"]?.stringValue == "sotw")
    }
}

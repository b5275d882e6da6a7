import AdminAPI
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MeshModel
import MeshTesting
import Prometheus
import PushPipeline
import Testing
import XDSCore

@Suite struct AdminAPITests {
    let store = InMemoryConfigStore()

    func withApp(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let router = AdminRouter.make(
            AdminDependencies(
                store: store, publisher: PushContextPublisher(), statuses: ProxyStatusRegistry(),
                metrics: PrometheusCollectorRegistry(), logger: Logger(label: "test"), generators: .testing))
        try await Application(router: router).test(.router, body)
    }

    func error(_ response: TestResponse) throws -> JSONValue {
        try #require(JSONValue.parse(json: String(buffer: response.body))["error"])
    }

    func apply(_ client: any TestClientProtocol, _ text: String) async throws -> TestResponse {
        try await client.execute(
            uri: "/api/v1/apply", method: .post, headers: [.contentType: "application/yaml"],
            body: ByteBuffer(string: text))
    }

    @Test func applyThenGetRoundTripsAndReapplyChangesNothing() async throws {
        try await withApp { client in
            let yaml = [CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1"])].joined(separator: "\n---\n")
            let first = try await apply(client, yaml)
            #expect(first.status == .ok)
            let answer = try JSONValue.parse(json: String(buffer: first.body))
            #expect(answer["revision"] == .number(1))
            let again = try JSONValue.parse(json: String(buffer: try await apply(client, yaml).body))
            #expect(again["revision"] == .number(1))
            #expect(again["results"]?.arrayValue?.allSatisfy { $0["action"] == .string("unchanged") } == true)

            let got = try await client.execute(uri: "/api/v1/config/dr/default/reviews", method: .get)
            #expect(got.status == .ok)
            #expect(try JSONValue.parse(json: String(buffer: got.body))["spec"]?["host"] == .string("reviews"))
        }
    }

    /// kubectl's AGE: the time of the history record that created the resource, kept across
    /// later changes, in a listing and a single read alike.
    @Test func resourcesCarryTheirCreationTimestamp() async throws {
        try await withApp { client in
            let before = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
            #expect(try await apply(client, CanaryFixture.destinationRule(subsets: ["v1"])).status == .ok)
            #expect(try await apply(client, CanaryFixture.destinationRule(subsets: ["v1", "v2"])).status == .ok)
            let one = try JSONValue.parse(json: String(buffer: try await client.execute(uri: "/api/v1/config/dr/default/reviews", method: .get).body))
            let listed = try JSONValue.parse(json: String(buffer: try await client.execute(uri: "/api/v1/config/dr", method: .get).body))
            let stamp = try #require(one["metadata"]?["creationTimestamp"]?.stringValue)
            #expect(listed["items"]?[0]?["metadata"]?["creationTimestamp"]?.stringValue == stamp)
            #expect(one["metadata"]?["resourceVersion"] == .string("2"))
            let created = try Date(stamp, strategy: .iso8601)
            #expect(created >= before && created <= Date())
            #expect(stamp.hasSuffix("Z") && !stamp.contains("."))
        }
    }

    @Test func negativeWeightIsRejectedNamingTheFieldAndChangesNothing() async throws {
        try await withApp { client in
            let bad = CanaryFixture.virtualService([("v1", 50), ("v2", -1)])
            let response = try await apply(client, CanaryFixture.registry + "\n---\n" + bad)
            #expect(response.status == .unprocessableContent)
            let error = try error(response)
            #expect(error["resource"] == .string("VirtualService default/reviews"))
            #expect(error["field"] == .string("spec.http[0].route[1].weight"))
            #expect(try await store.currentRevision() == 0)
        }
    }

    @Test func allZeroWeightsAreRejected() async throws {
        try await withApp { client in
            let response = try await apply(client, CanaryFixture.virtualService([("v1", 0), ("v2", 0)]))
            #expect(response.status == .unprocessableContent)
            #expect(try error(response)["field"] == .string("spec.http[0].route"))
        }
    }

    @Test func malformedYAMLAndUnknownKindsAreBadRequests() async throws {
        try await withApp { client in
            let malformed = try await apply(client, "kind: [unclosed")
            #expect(malformed.status == .badRequest)
            let unknown = try await apply(client, "apiVersion: networking.istio.io/v1\nkind: Gizmo\nmetadata: {name: x}\n")
            #expect(unknown.status == .badRequest)
            #expect(try error(unknown)["message"]?.stringValue?.contains("Gizmo") == true)
            #expect(try await store.currentRevision() == 0)
        }
    }

    @Test func bodyOverOneMebibyteIs413() async throws {
        try await withApp { client in
            let huge = "# " + String(repeating: "x", count: 1 << 20) + "\n"
            let response = try await apply(client, huge)
            #expect(response.status == .contentTooLarge)
            #expect(try error(response)["code"] == .string("tooLarge"))
        }
    }

    @Test func danglingSubsetIsAcceptedWithAWarning() async throws {
        try await withApp { client in
            let response = try await apply(client, CanaryFixture.registry + "\n---\n" + CanaryFixture.virtualService([("v9", 100)]))
            #expect(response.status == .ok)
            let warnings = try JSONValue.parse(json: String(buffer: response.body))["warnings"]?.arrayValue ?? []
            #expect(warnings.contains { $0.stringValue?.contains("spec.http[0].route[0].destination.subset") == true })
        }
    }

    @Test func registeredWorkloadBecomesAWorkloadEntry() async throws {
        try await withApp { client in
            let body = #"{"address": "10.0.0.7", "ports": {"grpc": 9080}, "labels": {"app": "reviews"}, "healthy": false}"#
            let response = try await client.execute(
                uri: "/api/v1/registry/workloads/default/vm-7", method: .put,
                headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
            #expect(response.status == .ok)
            let stored = try await store.get(ConfigKey(kind: .workloadEntry, namespace: "default", name: "vm-7"))
            #expect(stored?.resource.annotations["meshd.io/healthy"] == "false")
            #expect(stored?.resource.labels["meshd.io/registered-by"] == "api")
        }
    }
}

import AdminAPI
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MeshModel
import MeshTesting
import Prometheus
import PushPipeline
import Storage
import Testing
import XDSCore

/// `/api/v1/history`, `/api/v1/history/diff`, `/api/v1/rollback` and optimistic concurrency
/// on apply, over HTTP against the in-memory store.
@Suite struct HistoryAPITests {
    let store: InMemoryConfigStore
    let token = "s3cret-admin-token"

    init() { store = InMemoryConfigStore() }
    init(retention: HistoryRetention) { store = InMemoryConfigStore(historyRetention: retention) }

    func withApp(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let router = AdminRouter.make(
            AdminDependencies(
                store: store, publisher: PushContextPublisher(), statuses: ProxyStatusRegistry(),
                metrics: PrometheusCollectorRegistry(), logger: Logger(label: "test"),
                adminToken: token, generators: .testing))
        try await Application(router: router).test(.router, body)
    }

    func json(_ response: TestResponse) throws -> JSONValue { try JSONValue.parse(json: String(buffer: response.body)) }

    func apply(_ client: any TestClientProtocol, _ text: String, admin: Bool = false) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/yaml"]
        if admin { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: "/api/v1/apply", method: .post, headers: headers, body: ByteBuffer(string: text))
    }

    func rollback(_ client: any TestClientProtocol, _ body: String) async throws -> TestResponse {
        try await client.execute(
            uri: "/api/v1/rollback", method: .post, headers: [.contentType: "application/json"],
            body: ByteBuffer(string: body))
    }

    func revision(_ response: TestResponse) throws -> Int {
        try #require(try json(response)["revision"]?.intValue)
    }

    @Test func canaryShiftThenRollbackRestoresTheWeightsAsANewRevision() async throws {
        try await withApp { client in
            let base = [CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"])].joined(separator: "\n---\n")
            #expect(try await apply(client, base).status == .ok)
            let half = try revision(try await apply(client, CanaryFixture.virtualService([("v1", 50), ("v2", 50)]), admin: true))
            let shifted = try revision(try await apply(client, CanaryFixture.virtualService([("v1", 0), ("v2", 100)])))

            let history = try json(try await client.execute(uri: "/api/v1/history?kind=vs&name=reviews", method: .get))
            let items = try #require(history["items"]?.arrayValue)
            #expect(items.map { $0["revision"]?.intValue } == [shifted, half])
            #expect(items.map { $0["actor"]?.stringValue } == ["local", "admin"])
            #expect(
                items[0]["changes"]
                    == .array([.object(["kind": "VirtualService", "namespace": "default", "name": "reviews", "action": "configured"])]))
            #expect(items[0]["time"]?.stringValue?.hasSuffix("Z") == true)
            #expect(history["oldestRevision"] == .number(0))

            let diff = try json(try await client.execute(uri: "/api/v1/history/diff?from=\(half)", method: .get))
            #expect(diff["to"]?.intValue == shifted)
            let text = try #require(diff["diff"]?.stringValue)
            #expect(text.hasPrefix("--- a/VirtualService/default/reviews.yaml\n+++ b/VirtualService/default/reviews.yaml\n@@ "))
            let lines = text.split(separator: "\n")
            let line = { (sign: Character, content: String) in
                lines.contains { $0.first == sign && $0.dropFirst().trimmingCharacters(in: .whitespaces) == content }
            }
            #expect(line("-", "weight: 50") && line("+", "weight: 100") && line("+", "weight: 0"))
            #expect(!text.contains("resourceVersion"))

            let answer = try json(try await rollback(client, "{\"toRevision\": \(half)}"))
            #expect(answer["revision"]?.intValue == shifted + 1)
            #expect(answer["rolledBackTo"]?.intValue == half)
            #expect(
                answer["results"] == .array([.object(["kind": "VirtualService", "namespace": "default", "name": "reviews", "action": "configured"])]))
            let stored = try #require(try await store.get(ConfigKey(kind: .virtualService, namespace: "default", name: "reviews")))
            #expect(stored.resource.spec["http"]?[0]?["route"]?[1]?["weight"] == .number(50))

            let after = try json(try await client.execute(uri: "/api/v1/history?limit=1", method: .get))
            let record = try #require(after["items"]?[0])
            #expect(record["operation"] == "rollback" && record["rolledBackTo"]?.intValue == half)
            // Nothing left to restore: the current revision, every change since unchanged.
            let again = try json(try await rollback(client, "{\"toRevision\": \(half)}"))
            #expect(again["revision"]?.intValue == shifted + 1)
            #expect(again["results"]?.arrayValue?.allSatisfy { $0["action"] == "unchanged" } == true)
        }
    }

    @Test func aStaleResourceVersionIs409NamingTheFieldAndChangesNothing() async throws {
        try await withApp { client in
            let first = try revision(try await apply(client, CanaryFixture.virtualService([("v1", 50), ("v2", 50)])))
            let withVersion = { (version: String, weight: Int) in
                CanaryFixture.virtualService([("v1", 100 - weight), ("v2", weight)])
                    .replacingOccurrences(of: "namespace: default}", with: "namespace: default, resourceVersion: \"\(version)\"}")
            }
            let current = try await apply(client, withVersion("\(first)", 10))
            #expect(current.status == .ok)
            let now = try revision(current)
            let stale = try await apply(client, withVersion("\(first)", 90))
            #expect(stale.status == .conflict)
            let error = try #require(try json(stale)["error"])
            #expect(error["code"] == "conflict")
            #expect(error["resource"] == "VirtualService default/reviews")
            #expect(error["field"] == "metadata.resourceVersion")
            #expect(try await store.currentRevision() == Int64(now))
            let bad = try await apply(client, withVersion("latest", 90))
            #expect(bad.status == .unprocessableContent)
            #expect(try json(bad)["error"]?["field"] == "metadata.resourceVersion")
        }
    }

    @Test func rollbackRefusesFuturePrunedAndMalformedRevisions() async throws {
        let test = HistoryAPITests(retention: .count(1))
        try await test.withApp { client in
            for weight in [10, 20, 30] {
                #expect(try await test.apply(client, CanaryFixture.virtualService([("v1", 100 - weight), ("v2", weight)])).status == .ok)
            }
            let future = try await test.rollback(client, "{\"toRevision\": 99}")
            #expect(future.status == .notFound)
            #expect(try test.json(future)["error"]?["code"] == "notFound")
            let pruned = try await test.rollback(client, "{\"toRevision\": 1}")
            #expect(pruned.status == .gone)
            #expect(try test.json(pruned)["error"]?["code"] == "historyPruned")
            #expect(try await test.rollback(client, "{\"toRevision\": 2}").status == .ok)
            for body in ["{}", "{\"toRevision\": \"2\"}", "{\"toRevision\": -1}", "{\"toRevision\": 1.5}"] {
                let response = try await test.rollback(client, body)
                #expect(response.status == .unprocessableContent, "\(body)")
                #expect(try test.json(response)["error"]?["field"] == "toRevision")
            }
            #expect(try await client.execute(uri: "/api/v1/history?limit=0", method: .get).status == .badRequest)
            #expect(try await client.execute(uri: "/api/v1/history?limit=x", method: .get).status == .badRequest)
            #expect(try await client.execute(uri: "/api/v1/history?kind=Gizmo", method: .get).status == .badRequest)
            #expect(try await client.execute(uri: "/api/v1/history/diff", method: .get).status == .badRequest)
            #expect(try await client.execute(uri: "/api/v1/history/diff?from=1", method: .get).status == .gone)
        }
    }

    @Test func rollbackRestoresRegistryEntriesToo() async throws {
        try await withApp { client in
            let r1 = try revision(try await apply(client, CanaryFixture.virtualService([("v1", 50), ("v2", 50)])))
            #expect(try await apply(client, CanaryFixture.registry).status == .ok)
            // Rolling back to r1 deletes the ServiceEntry and WorkloadEntries (registry entries are config too).
            let answer = try json(try await rollback(client, "{\"toRevision\": \(r1)}"))
            #expect(answer["results"]?.arrayValue?.filter { $0["action"] == "deleted" }.count == 3)
            #expect(try await store.list(kind: .workloadEntry, namespace: nil).isEmpty)
        }
    }
}

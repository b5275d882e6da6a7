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

/// The write path refuses, before writing anything, config that proxies could not take.
@Suite struct WritePathHardeningTests {
    let store = InMemoryConfigStore()

    func withApp(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let router = AdminRouter.make(
            AdminDependencies(
                store: store, publisher: PushContextPublisher(), statuses: ProxyStatusRegistry(),
                metrics: PrometheusCollectorRegistry(), logger: Logger(label: "test"), generators: .testing))
        try await Application(router: router).test(.router, body)
    }

    func apply(_ client: any TestClientProtocol, _ text: String) async throws -> TestResponse {
        try await client.execute(
            uri: "/api/v1/apply", method: .post, headers: [.contentType: "application/yaml"],
            body: ByteBuffer(string: text))
    }

    static func workload(_ name: String, weight: UInt32) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: \(name), namespace: default}
        spec: {address: 10.0.0.9, ports: {grpc: 9089}, labels: {app: reviews, version: v9}, weight: \(weight)}
        """
    }

    @Test func workloadWeightsThatWouldOverflowTogetherAreRefusedAndNothingIsWritten() async throws {
        try await withApp { client in
            #expect(try await apply(client, CanaryFixture.registry + "\n---\n" + Self.workload("heavy-1", weight: .max - 2)).status == .ok)
            let revision = try await store.currentRevision()
            let response = try await apply(client, Self.workload("heavy-2", weight: 5))
            #expect(response.status == .unprocessableContent)
            let error = try #require(JSONValue.parse(json: String(buffer: response.body))["error"])
            #expect(error["resource"] == .string("WorkloadEntry default/heavy-2"))
            #expect(error["field"] == .string("spec.weight"))
            #expect(try await store.currentRevision() == revision)
            #expect(try await store.get(ConfigKey(kind: .workloadEntry, namespace: "default", name: "heavy-2")) == nil)
        }
    }

    /// In meshd the write path checks against the push loop's typed index, caught up with the
    /// store's keyed feed: a write the push loop has not consumed yet still counts.
    @Test func theSharedIndexIsCaughtUpBeforeTheCheck() async throws {
        let index = SharedConfigIndex()
        let publisher = PushContextPublisher()
        _ = try await store.apply(CanaryFixture.resources(CanaryFixture.registry))
        try await PushDebouncer(store: store, publisher: publisher, index: index, logger: Logger(label: "test")).buildAndPublish()
        let router = AdminRouter.make(
            AdminDependencies(
                store: store, publisher: publisher, statuses: ProxyStatusRegistry(),
                metrics: PrometheusCollectorRegistry(), logger: Logger(label: "test"),
                configIndex: index, generators: .testing))
        try await Application(router: router).test(.router) { client in
            #expect(try await apply(client, Self.workload("heavy-1", weight: .max - 2)).status == .ok)
            // No push happened in between: the index lags the store by one write.
            let response = try await apply(client, Self.workload("heavy-2", weight: 5))
            #expect(response.status == .unprocessableContent)
            #expect(try await store.get(ConfigKey(kind: .workloadEntry, namespace: "default", name: "heavy-2")) == nil)
        }
    }

    @Test func anInvalidRegexIsRefusedNamingTheField() async throws {
        try await withApp { client in
            let vs = """
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: reviews}
                spec:
                  hosts: [reviews]
                  http:
                  - match: [{uri: {regex: "("}}]
                    route: [{destination: {host: reviews}}]
                """
            let response = try await apply(client, vs)
            #expect(response.status == .unprocessableContent)
            let error = try #require(JSONValue.parse(json: String(buffer: response.body))["error"])
            #expect(error["field"] == .string("spec.http[0].match[0].uri.regex"))
            #expect(try await store.currentRevision() == 0)
        }
    }

    @Test func storedConfigThatFailsValidationIsMarkedWhenRead() async throws {
        var resource = CanaryFixture.resources(CanaryFixture.virtualService([("v1", 100)]))[0]
        resource.spec = .object([
            "hosts": .array([.string("reviews")]),
            "http": .array([
                .object([
                    "route": .array([
                        .object([
                            "destination": .object(["host": .string("reviews")]), "weight": .number(4_294_967_296),
                        ])
                    ])
                ])
            ]),
        ])
        _ = try await store.apply([resource])  // as an older meshd stored it
        try await withApp { client in
            let got = try await client.execute(uri: "/api/v1/config/vs/default/reviews", method: .get)
            let status = try #require(JSONValue.parse(json: String(buffer: got.body))["status"])
            #expect(status["pushed"] == .bool(false))
            #expect(status["validationMessages"]?.arrayValue?.first?["field"] == .string("spec.http[0].route[0].weight"))
            let list = try JSONValue.parse(json: String(buffer: try await client.execute(uri: "/api/v1/config/vs", method: .get).body))
            #expect(list["items"]?.arrayValue?.first?["status"]?["pushed"] == .bool(false))
        }
    }
}

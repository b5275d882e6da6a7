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

/// `GET`/`POST /api/v1/analyze`: the contract's shape, the namespace filter, documents analyzed
/// on top of the store without being written, and apply's validation for the body.
@Suite struct AnalyzeAPITests {
    let store = InMemoryConfigStore()

    func withApp(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let router = AdminRouter.make(
            AdminDependencies(
                store: store, publisher: PushContextPublisher(), statuses: ProxyStatusRegistry(),
                metrics: PrometheusCollectorRegistry(), logger: Logger(label: "test"), generators: .testing))
        try await Application(router: router).test(.router, body)
    }

    func post(_ client: any TestClientProtocol, _ path: String, _ text: String) async throws -> TestResponse {
        try await client.execute(uri: path, method: .post, headers: [.contentType: "application/yaml"], body: ByteBuffer(string: text))
    }

    func messages(_ response: TestResponse) throws -> [JSONValue] {
        try #require(JSONValue.parse(json: String(buffer: response.body))["messages"]?.arrayValue)
    }

    @Test func storedProblemIsReportedInTheContractShape() async throws {
        try await withApp { client in
            let yaml = [
                CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
                CanaryFixture.virtualService([("v1", 50), ("v3", 50)]),
            ].joined(separator: "\n---\n")
            #expect(try await post(client, "/api/v1/apply", yaml).status == .ok)
            let response = try await client.execute(uri: "/api/v1/analyze?namespace=default", method: .get)
            #expect(response.status == .ok)
            #expect(
                try messages(response) == [
                    .object([
                        "code": .string("IST0101"), "level": .string("Error"), "resource": .string("VirtualService default/reviews"),
                        "field": .string("spec.http[0].route[1].destination.subset"),
                        "message": .string("Referenced host+subset in destinationrule not found: \"reviews.default.svc.cluster.local+v3\""),
                    ])
                ])
            let elsewhere = try await client.execute(uri: "/api/v1/analyze?namespace=other", method: .get)
            #expect(try messages(elsewhere).isEmpty)
        }
    }

    @Test func postedDocumentsAreAnalyzedOnTopAndNotWritten() async throws {
        try await withApp { client in
            let yaml = [
                CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
                CanaryFixture.virtualService([("v1", 50), ("v2", 50)]),
            ].joined(separator: "\n---\n")
            #expect(try await post(client, "/api/v1/apply", yaml).status == .ok)
            let revision = try await store.currentRevision()
            #expect(try messages(try await client.execute(uri: "/api/v1/analyze", method: .get)).isEmpty)

            let fixing = try await post(client, "/api/v1/analyze", CanaryFixture.virtualService([("v1", 0), ("v2", 100)]))
            #expect(try messages(fixing).isEmpty)
            let breaking = try await post(client, "/api/v1/analyze", CanaryFixture.destinationRule(subsets: ["v1", "v2", "v3"]))
            #expect(try messages(breaking).compactMap { $0["code"]?.stringValue } == ["IST0173"])
            #expect(try await store.currentRevision() == revision)
        }
    }

    @Test func invalidBodyIsRefusedAsApplyRefusesIt() async throws {
        try await withApp { client in
            let response = try await post(client, "/api/v1/analyze", CanaryFixture.virtualService([("v1", 50), ("v2", -1)]))
            #expect(response.status == .unprocessableContent)
            let error = try #require(JSONValue.parse(json: String(buffer: response.body))["error"])
            #expect(error["resource"] == .string("VirtualService default/reviews"))
            #expect(error["field"] == .string("spec.http[0].route[1].weight"))
            let malformed = try await post(client, "/api/v1/analyze", "kind: [unclosed")
            #expect(malformed.status == .badRequest)
        }
    }
}

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

/// The validating admission webhook (`POST /validate`): meshd's apply checks answered as
/// AdmissionReview v1, nothing written.
@Suite struct AdmissionWebhookTests {
    let store = InMemoryConfigStore()

    func withWebhook(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let router = AdmissionController.make(
            AdminDependencies(
                store: store, publisher: PushContextPublisher(), statuses: ProxyStatusRegistry(),
                metrics: PrometheusCollectorRegistry(), logger: Logger(label: "test"), generators: .testing))
        try await Application(router: router).test(.router, body)
    }

    static func review(_ object: JSONValue?, operation: String = "CREATE", uid: String = "u-1") -> String {
        var request: [String: JSONValue] = [
            "uid": .string(uid), "operation": .string(operation),
            "kind": .object(["group": "networking.istio.io", "version": "v1", "kind": "VirtualService"]),
        ]
        if let object { request["object"] = object }
        return JSONValue.object(["apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": .object(request)]).canonicalJSON()
    }

    static func virtualService(weights: [Int], mirror: Bool = false) throws -> JSONValue {
        var text = CanaryFixture.virtualService(zip(["v1", "v2"], weights).map { ($0, $1) })
        if mirror { text += "\n    mirror: {host: reviews, subset: v2}\n" }
        var value = try #require(try ConfigDocumentParser.parse(text).first).toJSONValue(resourceVersion: nil)
        // As the API server sends it: its own resourceVersion, uid and managedFields.
        if case .object(var fields) = value, case .object(var metadata)? = fields["metadata"] {
            metadata["resourceVersion"] = "8812"
            metadata["uid"] = "1b0c"
            fields["metadata"] = .object(metadata)
            value = .object(fields)
        }
        return value
    }

    func send(_ client: any TestClientProtocol, _ body: String) async throws -> (TestResponse, JSONValue) {
        let response = try await client.execute(
            uri: "/validate", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
        return (response, try JSONValue.parse(json: String(buffer: response.body)))
    }

    @Test func refusalsCarryMeshdsMessageAndFieldPath() async throws {
        let object = try Self.virtualService(weights: [100, -1])
        try await withWebhook { client in
            let (response, answer) = try await send(client, Self.review(object, uid: "abc"))
            #expect(response.status == .ok)
            #expect(answer["apiVersion"]?.stringValue == "admission.k8s.io/v1" && answer["kind"]?.stringValue == "AdmissionReview")
            #expect(answer["response"]?["uid"]?.stringValue == "abc" && answer["response"]?["allowed"] == .bool(false))
            let message = answer["response"]?["status"]?["message"]?.stringValue ?? ""
            #expect(message.contains("VirtualService default/reviews: spec.http[0].route[1].weight"), "\(message)")
            #expect(answer["response"]?["status"]?["code"]?.intValue == 422)
        }
        #expect(try await store.currentRevision() == 0)
    }

    @Test func allowedObjectsCarryTheApplyWarnings() async throws {
        let object = try Self.virtualService(weights: [100, 0], mirror: true)
        try await withWebhook { client in
            let (_, answer) = try await send(client, Self.review(object, operation: "UPDATE"))
            #expect(answer["response"]?["allowed"] == .bool(true) && answer["response"]?["status"] == nil)
            guard case .array(let warnings)? = answer["response"]?["warnings"] else {
                Issue.record("no warnings: \(answer)")
                return
            }
            #expect(warnings.contains { $0.stringValue?.contains("spec.http[0].mirror") == true }, "\(warnings)")
        }
        #expect(try await store.currentRevision() == 0)
    }

    @Test func deletesAreAllowedAndGarbageIsRefused() async throws {
        try await withWebhook { client in
            let (_, deleted) = try await send(client, Self.review(nil, operation: "DELETE"))
            #expect(deleted["response"]?["allowed"] == .bool(true))
            let (response, _) = try await send(client, #"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"}"#)
            #expect(response.status == .badRequest)
            let (notJSON, _) = try await send(client, #"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}"#)
            #expect(notJSON.status == .badRequest)
        }
    }

    @Test func warningsStayOnePrintableLine() {
        let answer = AdmissionReview.response(uid: "u", allowed: true, warnings: ["a\nb" + String(repeating: "x", count: 600)])
        let warning = answer["response"]?["warnings"]?[0]?.stringValue ?? ""
        #expect(warning.count == 512 && !warning.contains("\n") && warning.hasSuffix("..."))
    }
}

import AdminAPI
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MeshModel
import MeshTesting
import Testing

/// Handler bugs schemathesis found against the OpenAPI document (Tests/interop/test_openapi.py),
/// each pinned here: request fields the handlers ignored without a word.
@Suite struct OpenAPIFuzzRegressionTests {
    static let token = AdminHardeningTests.adminToken

    func post(_ client: any TestClientProtocol, _ uri: String, method: HTTPRequest.Method = .post, _ body: String) async throws -> TestResponse {
        try await client.execute(
            uri: uri, method: method,
            headers: [.contentType: "application/json", .authorization: "Bearer \(Self.token)"],
            body: ByteBuffer(string: body))
    }

    func error(_ response: TestResponse) throws -> JSONValue {
        try #require(JSONValue.parse(json: String(buffer: response.body))["error"])
    }

    /// `"ttl": 3600` used to mint a 24-hour token (the default), as if no ttl had been sent.
    @Test(arguments: [#""ttl": 3600"#, #""ttl": {}"#, #""ttl": null"#, #""ttl": ["1h"]"#])
    func tokenTTLThatIsNotAStringIsRefusedNamingIt(_ ttl: String) async throws {
        try await AdminHardeningTests().withApp { client in
            let response = try await post(client, "/api/v1/tokens", #"{"namespace": "default", "serviceAccount": "reviews", \#(ttl)}"#)
            #expect(response.status == .unprocessableContent)
            #expect(try error(response)["field"] == .string("ttl"))
        }
    }

    /// An unknown field (`audience`, a typo) used to be dropped; a non-object body got a 422
    /// naming `namespace` rather than saying what was wrong.
    @Test func tokenRequestWithAnUnknownFieldOrNoObjectIsRefused() async throws {
        try await AdminHardeningTests().withApp { client in
            let unknown = try await post(client, "/api/v1/tokens", #"{"namespace": "default", "serviceAccount": "reviews", "audience": "x"}"#)
            #expect(unknown.status == .unprocessableContent)
            #expect(try error(unknown)["field"] == .string("audience"))
            let array = try await post(client, "/api/v1/tokens", #"["default"]"#)
            #expect(array.status == .unprocessableContent)
            #expect(try error(array)["field"] == .string("body"))
            let good = try await post(client, "/api/v1/tokens", #"{"namespace": "default", "serviceAccount": "reviews"}"#)
            #expect(good.status == .ok)
            #expect(try JSONValue.parse(json: String(buffer: good.body))["ttl"] == .string("24h"))
        }
    }

    /// A field a registered service does not have (`resolution`, which a caller may well expect
    /// to be honoured) used to be dropped with a 200 — the service registered as STATIC; a
    /// misspelt `port` or a body that was no object got a 422 about `spec.ports` instead of
    /// naming what the caller sent.
    @Test(arguments: [
        (#"{"ports": [{"number": 9080, "name": "grpc", "protocol": "GRPC"}], "resolution": "DNS"}"#, "resolution"),
        (#"{"port": [{"number": 9080, "name": "grpc", "protocol": "GRPC"}]}"#, "port"),
        (#"[1]"#, "body"), (#""reviews""#, "body"),
    ])
    func registeredServiceBodyMustBeAnObjectOfKnownFields(_ body: String, field: String) async throws {
        let store = InMemoryConfigStore()
        try await AdminHardeningTests().withApp(store: store) { client in
            let response = try await post(client, "/api/v1/registry/services/default/reviews", method: .put, body)
            #expect(response.status == .unprocessableContent)
            let error = try error(response)
            #expect(error["resource"] == .string("ServiceEntry default/reviews"))
            #expect(error["field"] == .string(field))
            #expect(try await store.currentRevision() == 0)
            let good = try await post(
                client, "/api/v1/registry/services/default/reviews", method: .put,
                #"{"ports": [{"number": 9080, "name": "grpc", "protocol": "GRPC"}]}"#)
            #expect(good.status == .ok)
        }
    }
}

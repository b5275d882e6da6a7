import AdminAPI
import Crypto
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
import X509

/// `/api/v1/secrets`: gateway credentials stored, rotated and deleted through the API, behind
/// the admin token, with the key kept out of every answer, history and diff.
@Suite struct SecretAPITests {
    let store = InMemoryConfigStore()
    let vault = InMemoryCredentialVault()
    let token = "s3cret-admin-token"

    /// A self-signed leaf for `reviews.example.com` (serial `serial`), PEM, and its key.
    static func leaf(serial: [UInt8] = [0x0a, 0x1b]) throws -> (cert: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("reviews.example.com") }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(bytes: serial), publicKey: .init(key.publicKey),
            notValidBefore: Date().addingTimeInterval(-3600), notValidAfter: Date().addingTimeInterval(90 * 86_400), issuer: name,
            subject: name, extensions: try Certificate.Extensions { SubjectAlternativeNames([.dnsName("reviews.example.com")]) },
            issuerPrivateKey: .init(key))
        return (try certificate.serializeAsPEM().pemString, key.pemRepresentation)
    }

    /// What of a key must never be shown: each PEM body line, the body unwrapped.
    static func fragments(ofKey pem: String) -> [String] {
        let lines = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.map(String.init)
        return lines + [lines.joined()]
    }

    func withApp(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let router = AdminRouter.make(
            AdminDependencies(
                store: store, publisher: PushContextPublisher(), statuses: ProxyStatusRegistry(),
                metrics: PrometheusCollectorRegistry(), logger: Logger(label: "test"),
                adminToken: token, generators: .testing, vault: vault))
        try await Application(router: router).test(.router, body)
    }

    func put(_ client: any TestClientProtocol, _ name: String, _ body: String, admin: Bool = true) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if admin { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: "/api/v1/secrets/istio-system/\(name)", method: .put, headers: headers, body: ByteBuffer(string: body))
    }

    func call(_ client: any TestClientProtocol, _ uri: String, _ method: HTTPRequest.Method = .get) async throws -> TestResponse {
        try await client.execute(uri: uri, method: method, headers: [.authorization: "Bearer \(token)"])
    }

    static func body(_ pair: (cert: String, key: String), extra: [String: JSONValue] = [:]) -> String {
        JSONValue.object(["certificate": .string(pair.cert), "key": .string(pair.key)].merging(extra) { a, _ in a }).canonicalJSON()
    }

    @Test func theSecretsAPINeedsTheAdminTokenEvenFromLoopback() async throws {
        let pair = try Self.leaf()
        try await withApp { client throws in
            #expect(try await put(client, "gw-cred", Self.body(pair), admin: false).status == .unauthorized)
            #expect(try await client.execute(uri: "/api/v1/secrets", method: .get).status == .unauthorized)
            #expect(try await client.execute(uri: "/api/v1/secrets/istio-system/gw-cred", method: .delete).status == .unauthorized)
            #expect(try await store.list(kind: .secret, namespace: nil).isEmpty)
        }
    }

    @Test func createRotateAndDeleteNeverShowTheKey() async throws {
        let first = try Self.leaf()
        let second = try Self.leaf(serial: [0x0c])
        try await withApp { client throws in
            var shown = ""
            func record(_ response: TestResponse) -> TestResponse {
                shown += String(buffer: response.body) + "\n"
                return response
            }
            let created = record(try await put(client, "gw-cred", Self.body(first)))
            #expect(created.status == .ok)
            #expect(String(buffer: created.body).contains("\"action\":\"created\""))
            #expect(record(try await put(client, "gw-cred", Self.body(first))).body.readableBytes > 0)
            #expect(String(buffer: record(try await put(client, "gw-cred", Self.body(first))).body).contains("unchanged"))
            #expect(vault.count == 1)

            let rotated = record(try await put(client, "gw-cred", Self.body(second)))
            #expect(String(buffer: rotated.body).contains("\"action\":\"configured\""))
            #expect(vault.count == 1, "the replaced material is pruned")

            let summary = try JSONValue.parse(json: String(buffer: record(try await call(client, "/api/v1/secrets/istio-system/gw-cred")).body))
            #expect(summary["serial"] == "0c")
            #expect(summary["subject"] == "CN=reviews.example.com")
            #expect(summary["subjectAltNames"] == .array(["reviews.example.com"]))
            _ = record(try await call(client, "/api/v1/secrets"))
            _ = record(try await call(client, "/api/v1/config/secrets?namespace=istio-system"))
            _ = record(try await call(client, "/api/v1/history"))
            _ = record(try await call(client, "/api/v1/history/diff?from=0"))

            let deleted = record(try await call(client, "/api/v1/secrets/istio-system/gw-cred", .delete))
            #expect(String(buffer: deleted.body).contains("\"action\":\"deleted\""))
            #expect(vault.count == 0)
            #expect(try await call(client, "/api/v1/secrets/istio-system/gw-cred", .delete).status == .notFound)
            _ = record(try await call(client, "/api/v1/history/diff?from=0"))

            for fragment in Self.fragments(ofKey: first.key) + Self.fragments(ofKey: second.key) {
                #expect(!shown.contains(fragment))
            }
            #expect(shown.contains("Secret"))
        }
    }

    @Test func badBodiesAreRefusedByFieldWithoutEchoingTheKey() async throws {
        let pair = try Self.leaf()
        let other = try Self.leaf()
        try await withApp { client throws in
            let cases: [(String, HTTPResponse.Status, String?)] = [
                (Self.body(pair, extra: ["tls.key": .string(pair.key)]), .unprocessableContent, "tls.key"),
                ("{\"certificate\": \"\(pair.cert)\", \"key\": \"\(pair.key)", .badRequest, nil),
                (Self.body((pair.cert, other.key)), .unprocessableContent, "key"),
                (Self.body(pair, extra: ["type": "Opaque"]), .unprocessableContent, "type"),
                (JSONValue.object(["key": .string(pair.key)]).canonicalJSON(), .unprocessableContent, "certificate"),
            ]
            for (body, status, field) in cases {
                let response = try await put(client, "gw-cred", body)
                #expect(response.status == status)
                let text = String(buffer: response.body)
                if let field { #expect(text.contains("\"field\":\"\(field)\"")) }
                for fragment in Self.fragments(ofKey: pair.key) + Self.fragments(ofKey: other.key) { #expect(!text.contains(fragment)) }
            }
            #expect(try await put(client, "gw-cred-cacert", Self.body(pair)).status == .unprocessableContent)
            #expect(vault.count == 0)
            #expect(try await store.list(kind: .secret, namespace: nil).isEmpty)
        }
    }

    @Test func secretsAreNotConfigDocumentsAndRollbackLeavesThem() async throws {
        let pair = try Self.leaf()
        try await withApp { client throws in
            let document = "apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: istio-system}\nspec: {}\n"
            let applied = try await client.execute(
                uri: "/api/v1/apply", method: .post, headers: [.contentType: "application/yaml"], body: ByteBuffer(string: document))
            #expect(applied.status == .unprocessableContent)
            #expect(String(buffer: applied.body).contains("meshctl create secret tls"))

            let gateway = GatewayFixture.gateway(
                servers: ["{port: {number: 443, name: https, protocol: HTTPS}, hosts: [\"*\"], tls: {mode: SIMPLE, credentialName: gw-cred}}"])
            let first = try await client.execute(
                uri: "/api/v1/apply", method: .post, headers: [.contentType: "application/yaml"], body: ByteBuffer(string: gateway))
            let base = try #require(try JSONValue.parse(json: String(buffer: first.body))["revision"]?.intValue)
            #expect(try await put(client, "gw-cred", Self.body(pair)).status == .ok)
            #expect(
                try await client.execute(uri: "/api/v1/config/secrets/istio-system/gw-cred", method: .delete).status == .unprocessableContent)

            let rollback = try await client.execute(
                uri: "/api/v1/rollback", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: "{\"toRevision\": \(base)}"))
            #expect(rollback.status == .ok)
            #expect(try await store.list(kind: .secret, namespace: "istio-system").count == 1)

            let deleted = try JSONValue.parse(json: String(buffer: try await call(client, "/api/v1/secrets/istio-system/gw-cred", .delete).body))
            let warnings = try #require(deleted["warnings"]?.arrayValue)
            #expect(
                warnings.contains { $0.stringValue?.contains("spec.servers[0].tls.credentialName: names the deleted credential gw-cred") == true })
        }
    }
}

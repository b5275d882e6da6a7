import AdminAPI
import CertificateAuthority
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MeshModel
import MeshTesting
import Prometheus
import PushPipeline
import Testing
import XDSCore

/// The OpenAPI document (Sources/AdminAPI/Assets/openapi.json) against the router: every route
/// Hummingbird has registered is described, every described operation is registered, and the
/// document is served as compiled in. The routes come from the router itself
/// (`Router.routes`), not from a second table that could drift from it.
@Suite struct OpenAPIDocumentTests {
    static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    /// The full router, identity endpoints included (they are registered only with a CA).
    static func router() throws -> Router<AdminRequestContext> {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("openapi-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let identity = AdminDependencies.Identity(
            ca: try LocalCertificateAuthority.loadOrCreate(directory: directory.appendingPathComponent("ca"), trustDomain: "cluster.local"),
            tokens: try TokenAuthority.loadOrCreate(directory: directory))
        return AdminRouter.make(
            AdminDependencies(
                store: InMemoryConfigStore(), publisher: PushContextPublisher(), statuses: ProxyStatusRegistry(),
                metrics: PrometheusCollectorRegistry(), logger: Logger(label: "test"), identity: identity, generators: .testing))
    }

    static func document() throws -> JSONValue {
        let asset = try #require(EmbeddedAssets.asset("openapi.json"), "openapi.json is not compiled in: run scripts/embed-assets.sh")
        #expect(asset.contentType == "application/json")
        return try JSONValue.parse(json: try #require(String(data: asset.bytes, encoding: .utf8)))
    }

    /// `GET /ui/` and `GET /ui` are one route to Hummingbird; compare without the trailing slash.
    static func normalized(_ method: String, _ path: String) -> String {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        return "\(method.uppercased()) \(trimmed)"
    }

    static func documentedOperations(_ document: JSONValue) throws -> Set<String> {
        let paths = try #require(document["paths"]?.objectValue)
        var operations: Set<String> = []
        for (path, item) in paths {
            for method in try #require(item.objectValue).keys {
                operations.insert(normalized(method, path))
            }
        }
        return operations
    }

    @Test func documentParsesAndDeclaresOpenAPI31() throws {
        let document = try Self.document()
        let version = try #require(document["openapi"]?.stringValue)
        #expect(version.hasPrefix("3.1."), "declares \(version)")
        #expect(document["components"]?["securitySchemes"]?["adminToken"]?["scheme"] == .string("bearer"))
    }

    @Test func everyRegisteredRouteIsDescribedAndEveryDescribedOneRegistered() throws {
        let registered = Set(try Self.router().routes.map { Self.normalized($0.method.rawValue, $0.path.description) })
        let documented = try Self.documentedOperations(try Self.document())
        #expect(registered.count >= 19, "the router lists \(registered.count) routes: \(registered.sorted())")
        #expect(registered.subtracting(documented).isEmpty, "registered but not in openapi.json: \(registered.subtracting(documented).sorted())")
        let missing = documented.subtracting(registered)
        #expect(missing.isEmpty, "in openapi.json but not registered: \(missing.sorted())")
    }

    /// Each operation answers 401 and 403 unless open (`security: []`), and the open ones are
    /// exactly the access policy's open paths.
    @Test func securityMatchesTheAccessPolicy() throws {
        let paths = try #require(try Self.document()["paths"]?.objectValue)
        var open: Set<String> = []
        for (path, item) in paths {
            for (method, operation) in try #require(item.objectValue) {
                let statuses = Set(operation["responses"]?.objectValue?.keys.map { $0 } ?? [])
                if operation["security"] == .array([]) {
                    open.insert(path)
                } else {
                    #expect(statuses.isSuperset(of: ["401", "403"]), "\(method) \(path) documents no 401/403")
                }
            }
        }
        #expect(open == AdminAccessPolicy.openPaths)
    }

    @Test func servedAtAPIV1WithETag() async throws {
        let asset = try #require(EmbeddedAssets.asset("openapi.json"))
        try await Application(router: try Self.router()).test(.router) { client in
            let response = try await client.execute(uri: "/api/v1/openapi.json", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            #expect(Data(response.body.readableBytesView) == asset.bytes)
            let etag = try #require(response.headers[.eTag])
            let again = try await client.execute(uri: "/api/v1/openapi.json", method: .get, headers: [.ifNoneMatch: etag])
            #expect(again.status == .notModified)
        }
    }
}

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
import Storage
import Synchronization
import Testing
import XDSCore

/// The admin API end to end through its router: token minting, browsers, content types,
/// readiness and liveness, and what a 500 tells the caller.
@Suite struct AdminHardeningTests {
    static let adminToken = "test-admin-token"

    func withApp(
        store: any ConfigStore = InMemoryConfigStore(), allowMinting: Bool = false,
        health: ServingHealth = ServingHealth(), publisher: PushContextPublisher = PushContextPublisher(),
        logger: Logger = Logger(label: "test"),
        _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("admin-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let identity = AdminDependencies.Identity(
            ca: try LocalCertificateAuthority.loadOrCreate(directory: directory.appendingPathComponent("ca"), trustDomain: "cluster.local"),
            tokens: try TokenAuthority.loadOrCreate(directory: directory))
        let router = AdminRouter.make(
            AdminDependencies(
                store: store, publisher: publisher, statuses: ProxyStatusRegistry(), metrics: PrometheusCollectorRegistry(),
                logger: logger, adminToken: Self.adminToken, allowLoopbackTokenMinting: allowMinting, health: health,
                identity: identity, generators: .testing))
        try await Application(router: router).test(.router, body)
    }

    func mint(_ client: any TestClientProtocol, token: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(
            uri: "/api/v1/tokens", method: .post, headers: headers,
            body: ByteBuffer(string: #"{"namespace": "default", "serviceAccount": "reviews", "ttl": "1h"}"#))
    }

    func json(_ response: TestResponse) throws -> JSONValue {
        try JSONValue.parse(json: String(buffer: response.body))
    }

    @Test func mintingFromLoopbackNeedsTheAdminToken() async throws {
        try await withApp { client in
            let refused = try await mint(client)
            #expect(refused.status == .unauthorized)
            #expect(try json(refused)["error"]?["code"] == .string("unauthenticated"))
            #expect(try await mint(client, token: "not-it").status == .unauthorized)
            let minted = try await mint(client, token: Self.adminToken)
            #expect(minted.status == .ok)
            #expect(try json(minted)["token"]?.stringValue?.split(separator: ".").count == 3)
        }
    }

    @Test func theOptInLetsLoopbackMintWithoutTheToken() async throws {
        try await withApp(allowMinting: true) { client in
            let minted = try await mint(client)
            #expect(minted.status == .ok)
        }
    }

    @Test func requestsFromBrowsersNeedTheToken() async throws {
        try await withApp { client in
            for header in [(HTTPField.Name("Origin")!, "http://localhost"), (HTTPField.Name("Sec-Fetch-Site")!, "same-origin")] {
                let response = try await client.execute(uri: "/api/v1/config/vs", method: .get, headers: [header.0: header.1])
                #expect(response.status == .unauthorized, "\(header.0)")
                let authorized = try await client.execute(
                    uri: "/api/v1/config/vs", method: .get,
                    headers: [header.0: header.1, .authorization: "Bearer \(Self.adminToken)"])
                #expect(authorized.status == .ok, "\(header.0) with the token")
            }
            let foreign = try await client.execute(
                uri: "/api/v1/config/vs", method: .get,
                headers: [.origin: "http://evil.example", .authorization: "Bearer \(Self.adminToken)"])
            #expect(foreign.status == .forbidden)
            #expect(try json(foreign)["error"]?["code"] == .string("forbidden"))
        }
    }

    @Test func applyRefusesBodiesThatAreNotYAMLOrJSON() async throws {
        let store = InMemoryConfigStore()
        try await withApp(store: store) { client in
            let yaml =
                "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: reviews, namespace: default}\nspec: {hosts: [reviews], ports: [{number: 9080, name: grpc, protocol: GRPC}], resolution: STATIC}\n"
            for headers: HTTPFields in [[.contentType: "text/plain"], [.contentType: "application/x-www-form-urlencoded"], [:]] {
                let response = try await client.execute(uri: "/api/v1/apply", method: .post, headers: headers, body: ByteBuffer(string: yaml))
                #expect(response.status == .unsupportedMediaType)
                #expect(try json(response)["error"]?["code"] == .string("unsupportedMediaType"))
            }
            #expect(try await store.currentRevision() == 0)
            let accepted = try await client.execute(
                uri: "/api/v1/apply", method: .post, headers: [.contentType: "text/yaml; charset=utf-8"],
                body: ByteBuffer(string: yaml))
            #expect(accepted.status == .ok)
        }
    }

    @Test func readyIs503UntilBuiltThen200NamingDegradations() async throws {
        let health = ServingHealth()
        try await withApp(health: health) { client in
            let starting = try await client.execute(uri: "/ready", method: .get)
            #expect(starting.status == .serviceUnavailable)
            #expect(try json(starting)["ready"] == .bool(false))

            health.markBuilt()
            let ready = try await client.execute(uri: "/ready", method: .get)
            #expect(ready.status == .ok)
            #expect(try json(ready)["status"] == .string("ready"))
            #expect(try json(ready)["degradations"] == .array([]))

            health.set("store", "config store unreachable: disk I/O error")
            let degraded = try await client.execute(uri: "/ready", method: .get)
            #expect(degraded.status == .ok)
            #expect(try json(degraded)["status"] == .string("degraded"))
            #expect(try json(degraded)["degradations"] == .array([.object(["id": "store", "message": "config store unreachable: disk I/O error"])]))

            health.set("store", nil)
            #expect(try json(try await client.execute(uri: "/ready", method: .get))["status"] == .string("ready"))
        }
    }

    @Test func healthzAnswers200WhileServingEvenBeforeReady() async throws {
        try await withApp { client in
            let response = try await client.execute(uri: "/healthz", method: .get)
            #expect(response.status == .ok)
            #expect(try json(response)["status"] == .string("ok"))
        }
    }

    @Test func aStoreFailureAnswersAGenericMessageAndLogsTheDetails() async throws {
        let records = LogRecords()
        let logger = Logger(label: "test") { _ in CapturingLogHandler(records: records) }
        try await withApp(store: FailingStore(), logger: logger) { client in
            let response = try await client.execute(uri: "/api/v1/config/vs", method: .get)
            #expect(response.status == .internalServerError)
            let body = String(buffer: response.body)
            #expect(!body.contains("SELECT"))
            #expect(!body.contains("no such table"))
            #expect(!body.contains("config.db"))
            let error = try #require(try json(response)["error"])
            #expect(error["code"] == .string("internal"))
            let id = try #require(error["errorId"]?.stringValue)
            #expect(error["message"]?.stringValue?.contains(id) == true)
            let logged = records.lines.joined(separator: "\n")
            #expect(logged.contains(id))
            #expect(logged.contains("no such table: config"))
        }
    }
}

/// A store whose every read fails as a broken SQLite file does, SQL text included.
struct FailingStore: ConfigStore {
    struct SQLiteFailure: Error, CustomStringConvertible {
        var description: String { "SQLite error 1: no such table: config - while executing `SELECT * FROM config WHERE kind = ?`" }
    }

    func fail<T>() throws(StorageError) -> T {
        throw StorageError(code: .database, message: "cannot read /var/lib/meshd/config.db", cause: SQLiteFailure())
    }

    func write(_ write: ConfigWrite) async throws(StorageError) -> ChangeOutcome { try fail() }
    func history(_ query: HistoryQuery) async throws(StorageError) -> HistoryPage { try fail() }
    func historyWindow(after revision: Int64) async throws(StorageError) -> HistoryWindow { try fail() }
    func get(_ key: ConfigKey) async throws(StorageError) -> StoredConfig? { try fail() }
    func list(kind: ConfigKind?, namespace: String?) async throws(StorageError) -> [StoredConfig] { try fail() }
    func snapshot() async throws(StorageError) -> ConfigSnapshot { try fail() }
    func currentRevision() async throws(StorageError) -> Int64 { try fail() }
    func revisions() -> AsyncStream<Int64> { AsyncStream { $0.finish() } }
    func delta(after revision: Int64) async throws(StorageError) -> ConfigDelta? { try fail() }
}

/// Log lines captured for assertions.
final class LogRecords: Sendable {
    private let storage = Mutex<[String]>([])
    var lines: [String] { storage.withLock { $0 } }
    func append(_ line: String) { storage.withLock { $0.append(line) } }
}

struct CapturingLogHandler: LogHandler {
    let records: LogRecords
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let fields = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        records.append("\(event.level) \(event.message) \(fields)")
    }
}

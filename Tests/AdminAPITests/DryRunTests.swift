import AdminAPI
import EnvoyAPI
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MeshModel
import MeshTesting
import Prometheus
import PushPipeline
import Testing
import Translator
import XDS
import XDSCore

/// `POST /api/v1/apply?dryRun=true`: validated as a real apply, nothing written, the impact on
/// connected proxies answered.
@Suite struct DryRunTests {
    let store = InMemoryConfigStore()
    let statuses = ProxyStatusRegistry()
    static let listener = "reviews.default.svc.cluster.local:9080"

    init() {
        EnvoyTypes.registerForJSON()
        // A proxyless client watching reviews, as grpcio subscribes (by name).
        var machine = StreamStateMachine(streamID: "s1")
        for typeURL in [TypeURL.listener, TypeURL.route] {
            _ = machine.receive(DiscoveryRequestInfo(typeURL: typeURL, resourceNames: [Self.listener], nodeID: "reviews-client"))
        }
        statuses.update(connectionID: "s1", connectedAt: Date(), machine: machine, proxy: Proxy(id: "reviews-client"))
    }

    func withApp(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let router = AdminRouter.make(
            AdminDependencies(
                store: store, publisher: PushContextPublisher(), statuses: statuses,
                metrics: PrometheusCollectorRegistry(), logger: Logger(label: "test"), generators: .testing))
        try await Application(router: router).test(.router, body)
    }

    func post(_ client: any TestClientProtocol, _ uri: String, _ text: String) async throws -> (TestResponse, JSONValue) {
        let response = try await client.execute(
            uri: uri, method: .post, headers: [.contentType: "application/yaml"],
            body: ByteBuffer(string: text))
        return (response, try JSONValue.parse(json: String(buffer: response.body)))
    }

    static let canary = [
        CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
        CanaryFixture.virtualService([("v1", 50), ("v2", 50)]),
    ].joined(separator: "\n---\n")

    @Test func aDryRunAnswersResultsAndImpactAndChangesNothing() async throws {
        try await withApp { client in
            let (_, applied) = try await post(client, "/api/v1/apply", Self.canary)
            let revision = try #require(applied["revision"])
            let shift = CanaryFixture.virtualService([("v1", 0), ("v2", 100)])
            let (response, answer) = try await post(client, "/api/v1/apply?dryRun=true", shift)
            #expect(response.status == .ok)
            #expect(answer["dryRun"] == .bool(true))
            #expect(answer["revision"] == revision)
            #expect(
                answer["results"]
                    == .array([
                        .object([
                            "kind": "VirtualService", "namespace": "default", "name": "reviews",
                            "action": "configured",
                        ])
                    ]))
            #expect(
                answer["impact"]
                    == .array([
                        .object([
                            "proxy": "reviews-client", "kind": "proxyless",
                            "resources": .array([.object(["type": "RouteConfiguration", "name": .string(Self.listener), "change": "modified"])]),
                        ])
                    ]))
            #expect(answer["proxyDiff"] == nil)
            #expect(try await store.currentRevision() == Int64(revision.intValue ?? -1))
            let stored = try await store.get(ConfigKey(kind: .virtualService, namespace: "default", name: "reviews"))
            #expect(stored?.resource == CanaryFixture.resources(CanaryFixture.virtualService([("v1", 50), ("v2", 50)])).first)

            let (_, diffed) = try await post(client, "/api/v1/apply?dryRun=true&proxy=reviews-client", shift)
            let diff = try #require(diffed["proxyDiff"]?["diff"]?.stringValue)
            #expect(diffed["proxyDiff"]?["proxy"] == "reviews-client")
            #expect(diff.hasPrefix("--- a/RouteConfiguration/\(Self.listener)\n+++ b/RouteConfiguration/\(Self.listener)\n@@ "))
            #expect(diff.contains("\n-                  \"weight\": 50\n"))
            #expect(diff.contains("\n+            \"cluster\": \"outbound|9080|v2|reviews.default.svc.cluster.local\"\n"))

            let (same, unchanged) = try await post(client, "/api/v1/apply?dryRun=true", CanaryFixture.virtualService([("v1", 50), ("v2", 50)]))
            #expect(same.status == .ok)
            #expect(unchanged["results"]?[0]?["action"] == "unchanged")
            #expect(unchanged["impact"] == .array([]))
        }
    }

    @Test func aDryRunRefusesWhatAnApplyRefusesWithTheSameAnswer() async throws {
        try await withApp { client in
            let bad = CanaryFixture.virtualService([("v1", 50), ("v2", -1)])
            let (real, realError) = try await post(client, "/api/v1/apply", bad)
            let (dry, dryError) = try await post(client, "/api/v1/apply?dryRun=true", bad)
            #expect(real.status == .unprocessableContent && dry.status == real.status)
            #expect(dryError == realError)
            let (malformed, _) = try await post(client, "/api/v1/apply?dryRun=true", "kind: [unclosed")
            #expect(malformed.status == .badRequest)
            #expect(try await store.currentRevision() == 0)
        }
    }

    @Test func aDryRunRefusesAStaleResourceVersionAsAnApplyDoes() async throws {
        try await withApp { client in
            let (_, first) = try await post(client, "/api/v1/apply", Self.canary)
            let old = try #require(first["revision"]?.intValue)
            let (_, applied) = try await post(client, "/api/v1/apply", CanaryFixture.virtualService([("v1", 20), ("v2", 80)]))
            let revision = try #require(applied["revision"]?.intValue)
            // Written against the first revision: someone changed the VirtualService since.
            let stale = CanaryFixture.virtualService([("v1", 0), ("v2", 100)])
                .replacingOccurrences(
                    of: "metadata: {name: reviews, namespace: default}",
                    with: "metadata: {name: reviews, namespace: default, resourceVersion: \"\(old)\"}")
            let (real, realError) = try await post(client, "/api/v1/apply", stale)
            let (dry, dryError) = try await post(client, "/api/v1/apply?dryRun=true", stale)
            #expect(real.status == .conflict && dry.status == .conflict)
            #expect(dryError == realError)
            #expect(dryError["error"]?["field"] == "metadata.resourceVersion")
            let current = stale.replacingOccurrences(of: "resourceVersion: \"\(old)\"", with: "resourceVersion: \"\(revision)\"")
            let (fresh, answer) = try await post(client, "/api/v1/apply?dryRun=true", current)
            #expect(fresh.status == .ok && answer["results"]?[0]?["action"] == "configured")
            #expect(try await store.currentRevision() == Int64(revision))
        }
    }

    @Test func anUnknownProxyIsNotFoundAndBadParametersAreNamed() async throws {
        try await withApp { client in
            let (missing, missingError) = try await post(client, "/api/v1/apply?dryRun=true&proxy=nobody", Self.canary)
            #expect(missing.status == .notFound)
            #expect(missingError["error"]?["code"] == "notFound")
            #expect(missingError["error"]?["message"]?.stringValue?.contains("nobody") == true)
            let (odd, oddError) = try await post(client, "/api/v1/apply?dryRun=maybe", Self.canary)
            #expect(odd.status == .unprocessableContent)
            #expect(oddError["error"]?["field"] == "dryRun")
            let (stray, strayError) = try await post(client, "/api/v1/apply?proxy=reviews-client", Self.canary)
            #expect(stray.status == .unprocessableContent)
            #expect(strayError["error"]?["field"] == "proxy")
            #expect(try await store.currentRevision() == 0, "none of these applied anything")
        }
    }
}

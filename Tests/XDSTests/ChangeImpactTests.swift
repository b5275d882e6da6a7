import EnvoyAPI
import MeshModel
import MeshTesting
import Testing
import Translator
import XDSCore

@testable import PushPipeline
@testable import XDS

/// What a configuration change would send which proxy: only proxies whose view the change
/// touches, every kind of proxy, one generation per distinct view, and nothing for no change.
@Suite struct ChangeImpactTests {
    static func push(revision: Int64, _ texts: String...) throws -> PushContext {
        var inputs: [PushContextBuilder.Input] = []
        for resource in try texts.flatMap({ try ConfigDocumentParser.parse($0) }) {
            inputs.append(.init(key: resource.key, createdRevision: Int64(inputs.count + 1), config: try ConfigValidator.validate(resource)))
        }
        return PushContextBuilder.build(revision: revision, inputs: inputs)
    }

    static func canary(revision: Int64, _ weights: [(String, Int)], subsets: [String] = ["v1", "v2"]) throws -> PushContext {
        try push(
            revision: revision, CanaryFixture.registry, CanaryFixture.destinationRule(subsets: subsets),
            CanaryFixture.virtualService(weights))
    }

    static let client = Proxy(id: "reviews-client")
    static let sidecar = EnvoyFixture.proxy()

    static func impact(_ targets: [ChangeImpact.Target], _ before: PushContext, _ after: PushContext) -> ChangeImpact {
        ChangeImpact.compute(targets, before: before, after: after, generators: .testing)
    }

    static func names(_ affected: ChangeImpact.Affected?) -> [String] {
        (affected?.changes ?? []).map { "\($0.typeName) \($0.name) \($0.change.rawValue)" }
    }

    @Test func aWeightShiftTouchesTheRouteOfTheProxylessClientAndTheEnvoySidecar() throws {
        let before = try Self.canary(revision: 1, [("v1", 50), ("v2", 50)])
        let after = try Self.canary(revision: 2, [("v1", 0), ("v2", 100)])
        let impact = Self.impact([.init(proxy: Self.client), .init(proxy: Self.sidecar)], before, after)
        #expect(impact.affected.map(\.proxy.id) == [Self.client.id, Self.sidecar.id].sorted())
        let client = impact.affected.first { $0.proxy.id == Self.client.id }
        #expect(Self.names(client) == ["RouteConfiguration reviews.default.svc.cluster.local:9080 modified"])
        let sidecar = impact.affected.first { $0.proxy.id == Self.sidecar.id }
        #expect(Self.names(sidecar) == ["RouteConfiguration 9080 modified"])
        #expect(impact.failures.isEmpty)
    }

    @Test func aProxyWhoseViewLacksTheChangedHostIsNotAffected() throws {
        let others = """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: ratings, namespace: shop}
            spec:
              hosts: [ratings.shop.svc.cluster.local]
              ports: [{number: 9080, name: grpc, protocol: GRPC}]
              workloadSelector: {labels: {app: ratings}}
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: default, namespace: shop}
            spec:
              egress:
              - hosts: ["./*"]
            """
        let before = try Self.push(
            revision: 1, CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            CanaryFixture.virtualService([("v1", 50), ("v2", 50)]), others)
        let after = try Self.push(
            revision: 2, CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            CanaryFixture.virtualService([("v1", 0), ("v2", 100)]), others)
        let shop = Proxy(id: "shop-client", namespace: "shop")
        let sidecarInShop = Proxy(
            id: "sidecar~10.0.0.9~web-1.shop~shop.svc.cluster.local", kind: .sidecar, namespace: "shop",
            instanceIPs: ["10.0.0.9"])
        let impact = Self.impact([.init(proxy: shop), .init(proxy: sidecarInShop), .init(proxy: Self.client)], before, after)
        #expect(impact.affected.map(\.proxy.id) == [Self.client.id], "the Sidecar in shop hides reviews from both shop proxies")
    }

    @Test func anApplyThatChangesNothingHasNoImpact() throws {
        let before = try Self.canary(revision: 1, [("v1", 50), ("v2", 50)])
        let same = try Self.canary(revision: 2, [("v1", 50), ("v2", 50)])
        let impact = Self.impact([.init(proxy: Self.client), .init(proxy: Self.sidecar)], before, same)
        #expect(impact.affected.isEmpty)
        #expect(impact.failures.isEmpty)
    }

    @Test func eachDistinctViewIsGeneratedOnceAndAStreamsSnapshotIsReused() throws {
        let before = try Self.canary(revision: 1, [("v1", 50), ("v2", 50)])
        let after = try Self.canary(revision: 2, [("v1", 0), ("v2", 100)])
        let many = (0..<200).map { ChangeImpact.Target(proxy: Proxy(id: "client-\($0)", labels: ["pod": "\($0)"])) }
        let impact = Self.impact(many, before, after)
        #expect(impact.affected.count == 200)
        #expect(impact.generations == 2, "one view, generated once before and once after")

        let sent = ProxySnapshot(proxy: Self.client, push: before, table: .testing)
        let reusing = Self.impact([.init(proxy: Self.client, snapshot: sent)], before, after)
        #expect(reusing.generations == 1)
        #expect(reusing.reused == 1)
        #expect(Self.names(reusing.affected.first) == ["RouteConfiguration reviews.default.svc.cluster.local:9080 modified"])
        // A snapshot of an older context is not the "before" state: generated instead.
        let stale = ProxySnapshot(proxy: Self.client, push: try Self.canary(revision: 0, [("v1", 100), ("v2", 0)]), table: .testing)
        #expect(Self.impact([.init(proxy: Self.client, snapshot: stale)], before, after).reused == 0)
    }

    @Test func subscriptionsDecideWhatCountsAndNamedOnesFollowWhatTheyLeadTo() throws {
        let before = try Self.canary(revision: 1, [("v1", 50), ("v2", 50)])
        // A new subset: the route names a new cluster, which the client will ask for next.
        let after = try Self.canary(revision: 2, [("v1", 50), ("v2", 25), ("v3", 25)], subsets: ["v1", "v2", "v3"])
        let v3 = "outbound|9080|v3|reviews.default.svc.cluster.local"
        let grpc: [String: ResourceSubscription] = [
            TypeURL.listener: .names([reviewsListener]), TypeURL.route: .names([reviewsListener]),
            TypeURL.cluster: .names([v1Cluster, v2Cluster]), TypeURL.endpoint: .names([v1Cluster, v2Cluster]),
        ]
        let impact = Self.impact([.init(proxy: Self.client, subscriptions: grpc)], before, after)
        #expect(
            Self.names(impact.affected.first) == [
                "Cluster \(v3) added", "ClusterLoadAssignment \(v3) added",
                "RouteConfiguration \(reviewsListener) modified",
            ])
        // A proxy that subscribed only to listeners gets nothing from a route change.
        let listenersOnly = Self.impact([.init(proxy: Self.client, subscriptions: [TypeURL.listener: .all])], before, after)
        #expect(listenersOnly.affected.isEmpty)
        // Without known subscriptions every generated resource counts, the new ones too.
        let unknown = Self.impact([.init(proxy: Self.client)], before, after)
        #expect(Set(Self.names(unknown.affected.first)).isSuperset(of: ["Cluster \(v3) added", "ClusterLoadAssignment \(v3) added"]))
    }

    struct Broken: Error, CustomStringConvertible {
        var description: String { "generator exploded" }
    }

    @Test func aViewThatCannotBeGeneratedIsReportedAndTheBoundHolds() throws {
        let before = try Self.canary(revision: 1, [("v1", 50), ("v2", 50)])
        let after = try Self.canary(revision: 2, [("v1", 0), ("v2", 100)])
        let failing = ChangeImpact.compute(
            [.init(proxy: Self.client), .init(proxy: Self.sidecar)], before: before, after: after,
            maxGenerations: 10
        ) { key, push in
            if key.kind == .sidecar && push.revision == 2 { throw Broken() }
            return ProxySnapshot(view: ProxyView(key: key, push: push), push: push, generators: GeneratorTable.testing.generators(for: key.kind))
        }
        #expect(failing.affected.map(\.proxy.id) == [Self.client.id])
        #expect(failing.failures.map(\.proxyID) == [Self.sidecar.id])
        #expect(failing.failures.first?.message.contains("generator exploded") == true)

        let bounded = ChangeImpact.compute(
            [.init(proxy: Self.client), .init(proxy: Self.sidecar)], before: before, after: after,
            generators: .testing, maxGenerations: 2)
        #expect(bounded.generations == 2)
        #expect(bounded.affected.map(\.proxy.id) == [Self.client.id])
        #expect(bounded.failures.map(\.proxyID) == [Self.sidecar.id])
    }

    @Test func theProxyDiffShowsTheWeightChangeAsCanonicalJSON() throws {
        EnvoyTypes.registerForJSON()
        let before = try Self.canary(revision: 1, [("v1", 50), ("v2", 50)])
        let after = try Self.canary(revision: 2, [("v1", 0), ("v2", 100)])
        let affected = try #require(Self.impact([.init(proxy: Self.client)], before, after).affected.first)
        let diff = ProxyConfigDiff.render(affected)
        let lines = diff.split(separator: "\n").map(String.init)
        #expect(lines.prefix(2) == ["--- a/RouteConfiguration/\(reviewsListener)", "+++ b/RouteConfiguration/\(reviewsListener)"])
        #expect(lines.contains { $0.hasPrefix("@@ -") })
        let removed = lines.filter { $0.hasPrefix("-") && !$0.hasPrefix("---") }
        let added = lines.filter { $0.hasPrefix("+") && !$0.hasPrefix("+++") }
        #expect(removed.contains { $0.contains("\"weight\": 50") })
        // 0/100 is one cluster, no longer a weighted split (as istiod sends it).
        #expect(added == ["+            \"cluster\": \"\(v2Cluster)\""])
        #expect(!diff.contains("cannot be shown"))
    }
}

import EnvoyAPI
import Foundation
import MeshModel
import MeshTesting
import SwiftProtobuf
import Testing

@testable import Translator

private let reviews = "reviews.default.svc.cluster.local"
private let v1 = "outbound|9080|v1|\(reviews)"
private let v2 = "outbound|9080|v2|\(reviews)"

/// `tcp[]` and `tls[]` as the filter chains the Envoy listener generator will place.
@Suite struct L4RouteTranslationTests {
    static let rules = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews, namespace: default}
        spec:
          hosts: [reviews, "*.reviews.example"]
          tls:
          - match: [{sniHosts: [a.reviews.example], destinationSubnets: [10.0.0.0/8, "::1"]}, {sniHosts: [b.reviews.example], port: 1}]
            route: [{destination: {host: reviews, subset: v2}}]
          tcp:
          - match: [{sourceNamespace: ops}]
            route: [{destination: {host: reviews, subset: v1}}]
          - match: [{port: 9080, destinationSubnets: [192.168.1.7]}]
            route:
            - {destination: {host: reviews, subset: v1}, weight: 30}
            - {destination: {host: reviews, subset: v2}, weight: 70}
            - {destination: {host: reviews, subset: v9}, weight: 10}
            - {destination: {host: reviews, subset: v1}, weight: 0}
          - match: [{destinationSubnets: [172.16.0.0/12]}]
            route: [{destination: {host: reviews, subset: v9}}]
          - route: [{destination: {host: reviews}}]
          - route: [{destination: {host: reviews, subset: v2}}]
        """

    static func chains(namespace: String = "default") throws -> [L4FilterChain] {
        let push = try context([CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]), rules])
        let view = ProxyView(key: push.viewKey(for: Proxy(id: "p", kind: .sidecar, namespace: namespace)), push: push)
        return L4RouteTranslation.filterChains(host: reviews, port: 9080, view: view)
    }

    @Test func chainsFollowTheRulesInOrder() throws {
        let chains = try Self.chains()
        // The tls match on port 1 and the tcp match for callers in `ops` do not apply; the rule
        // without matches takes the rest, so no default chain follows it.
        #expect(chains.map(\.name) == ["tls[0].match[0]", "tcp[1].match[0]", "tcp[2].match[0]", "tcp[3]"])
        let tls = chains[0]
        #expect(tls.match.serverNames == ["a.reviews.example"] && tls.match.transportProtocol == "tls")
        #expect(tls.match.prefixRanges.map { "\($0.addressPrefix)/\($0.prefixLen.value)" } == ["10.0.0.0/8", "::1/128"])
        #expect(tls.tcpProxy?.cluster == v2)
        #expect(chains.allSatisfy { $0.match.destinationPort.value == 9080 })
        // Unresolved (v9) and zero weights are dropped; what is left keeps its weights.
        let split = try #require(chains[1].tcpProxy?.weightedClusters.clusters)
        #expect(split.map(\.name) == [v1, v2] && split.map(\.weight) == [30, 70])
        #expect(chains[1].match.prefixRanges.map(\.addressPrefix) == ["192.168.1.7"])
        // Nothing resolves: no proxy, so the listener refuses rather than falling through.
        #expect(chains[2].tcpProxy == nil && chains[2].filterChain == nil)
        #expect(chains[3].tcpProxy?.cluster == "outbound|9080||\(reviews)")
        #expect(chains[3].tcpProxy?.statPrefix == "outbound|9080||\(reviews)")
    }

    @Test func callerConditionsAreDecidedPerView() throws {
        #expect(try Self.chains(namespace: "ops").map(\.name).prefix(2) == ["tls[0].match[0]", "tcp[0].match[0]"])
    }

    @Test func withoutAVirtualServiceTheDefaultChainForwardsToTheService() throws {
        let push = try context([CanaryFixture.registry])
        let view = ProxyView(key: push.viewKey(for: Proxy(id: "p", kind: .sidecar)), push: push)
        let chains = L4RouteTranslation.filterChains(host: reviews, port: 9080, view: view)
        #expect(chains.map(\.name) == ["default"] && chains[0].tcpProxy?.cluster == "outbound|9080||\(reviews)")
    }

    /// The chains, encoded, are the golden file the interop suite decodes with the official
    /// protos and checks against Envoy's PGV rules (test_l4_chains.py). Set
    /// MESHD_UPDATE_GOLDEN=1 to rewrite it after a deliberate change.
    @Test func theEncodedChainsMatchTheGoldenFile() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Shared/l4/filter_chains.json")
        var encoded: [[String: String]] = []
        for chain in try Self.chains() {
            guard let filterChain = chain.filterChain else { continue }
            encoded.append(["name": chain.name, "filterChain": Data(try filterChain.serializedBytes() as [UInt8]).base64EncodedString()])
        }
        let data = try JSONSerialization.data(withJSONObject: ["chains": encoded], options: [.prettyPrinted, .sortedKeys])
        if ProcessInfo.processInfo.environment["MESHD_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url)
        }
        let golden = try Data(contentsOf: url)
        let decoded = try JSONSerialization.jsonObject(with: golden) as? [String: [[String: String]]]
        #expect(decoded?["chains"] == encoded)
    }
}

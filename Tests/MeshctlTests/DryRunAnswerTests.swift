import Foundation
import Testing

@testable import meshctl

/// How `meshctl apply --dry-run` prints meshd's answer: one line per proxy, node id first.
@Suite struct DryRunAnswerTests {
    @Test func eachAffectedProxyIsOneLineStartingWithItsNodeID() throws {
        let answer = try DryRunAnswer.decode(
            Data(
                """
                {"dryRun": true, "revision": 4, "results": [], "warnings": [],
                 "impact": [
                   {"proxy": "reviews-client", "kind": "proxyless",
                    "resources": [{"type": "RouteConfiguration", "name": "reviews.default.svc.cluster.local:9080", "change": "modified"}]},
                   {"proxy": "sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local", "kind": "sidecar",
                    "resources": [{"type": "Cluster", "name": "outbound|9080|v3|reviews.default.svc.cluster.local", "change": "added"},
                                  {"type": "RouteConfiguration", "name": "9080", "change": "modified"}]}]}
                """.utf8))
        #expect(
            answer.impactText == """
                reviews-client  RouteConfiguration reviews.default.svc.cluster.local:9080
                sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local  Cluster outbound|9080|v3|reviews.default.svc.cluster.local (added), RouteConfiguration 9080

                """)
        let none = try DryRunAnswer.decode(Data(#"{"dryRun": true, "results": [], "impact": []}"#.utf8))
        #expect(none.impactText == "no connected proxy would receive a change\n")
    }
}

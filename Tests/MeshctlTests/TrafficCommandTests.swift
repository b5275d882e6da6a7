import MeshModel
import Testing

@testable import meshctl

/// `meshctl x traffic`'s table: a row per source and subset, weights beside observed shares,
/// sources that saw nothing said so, and the notes the answer carries.
@Suite struct TrafficCommandTests {
    @Test func rendersOneRowPerSourceAndSubset() throws {
        let answer = try JSONValue.parse(
            json: """
                {"window": "30s", "prometheus": "http://p:9090", "services": [{"host": "reviews.default.svc.cluster.local",
                  "namespace": "default", "weights": {"v1": 80, "v2": 20},
                  "sources": {
                    "client": {"requestsPerSecond": 60, "rows": [
                      {"subset": "v1", "requestsPerSecond": 48.04, "sharePercent": 80.07, "errorPercent": 0, "p50Ms": 1.234, "p99Ms": 12.6, "weight": 80},
                      {"subset": "v2", "requestsPerSecond": 11.96, "sharePercent": 19.93, "errorPercent": 30.1, "p50Ms": null, "p99Ms": null, "weight": 20}]},
                    "destination": {"requestsPerSecond": 0, "rows": [], "note": "no shared label"},
                    "envoy": {"requestsPerSecond": 0, "rows": []}}}]}
                """)
        let text = TrafficCommand.render(answer)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0] == "reviews.default.svc.cluster.local (over 30s, from http://p:9090)")
        #expect(
            lines[1].split(separator: " ", omittingEmptySubsequences: true) == [
                "SOURCE", "SUBSET", "WEIGHT", "OBSERVED", "RPS", "ERRORS", "P50", "P99",
            ])
        #expect(
            lines[2].split(separator: " ", omittingEmptySubsequences: true) == ["client", "v1", "80%", "80.1%", "48.0", "0.0%", "1.23ms", "13ms"])
        #expect(lines[3].split(separator: " ", omittingEmptySubsequences: true) == ["client", "v2", "20%", "19.9%", "12.0", "30.1%", "-", "-"])
        #expect(lines[4].hasPrefix("destination") && lines[4].contains("no traffic seen"))
        #expect(lines[5].hasPrefix("envoy") && lines[5].contains("no traffic seen"))
        #expect(lines[6] == "Note: destination: no shared label")
    }

    @Test func anEmptyAnswerSaysNoServiceMatches() {
        #expect(TrafficCommand.render(.object(["services": .array([])])) == "No service matches.\n")
    }
}

import Foundation
import MeshTesting
import Testing
import Translator
import XDS

/// One row of `Tests/Shared/routing/cases.json`.
struct RoutingRow: Decodable, Sendable, CustomTestStringConvertible {
    var path: String
    var headers: [String: String]?
    var namespace: String?
    var route: String
    var subset: String?
    var weights: [String: UInt32]?
    var testDescription: String { "\(path) \(headers ?? [:]) ns=\(namespace ?? "default") → \(route)" }
}

private struct RoutingTable: Decodable {
    var cases: [RoutingRow]
}

/// The routing table shared with the interop suite: the simulation over meshd's bytes must
/// reach exactly what grpcio's real client reaches for the same requests
/// (Tests/interop/test_routing_table.py runs the same rows).
@Suite struct RoutingTableTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Shared/routing")
    static let rows: [RoutingRow] = {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("cases.json")),
              let table = try? JSONDecoder().decode(RoutingTable.self, from: data) else { return [] }
        return table.cases
    }()

    @Test func theTableIsThere() {
        #expect(Self.rows.count >= 10)
    }

    @Test(arguments: rows)
    func eachRowReachesWhatTheTableSays(_ row: RoutingRow) throws {
        let rules = try String(contentsOf: Self.directory.appendingPathComponent("rules.yaml"), encoding: .utf8)
        let push = try context([CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]), rules])
        let proxy = Proxy(id: "client", namespace: row.namespace ?? "default")
        let simulation = try TrafficSimulation(snapshot: ProxySnapshot(proxy: proxy, push: push))
        let result = simulation.run(.init(authority: "reviews.default.svc.cluster.local:9080", path: row.path, headers: row.headers ?? [:]))
        #expect(result.route == row.route)
        let cluster = { (subset: String) in "outbound|9080|\(subset)|reviews.default.svc.cluster.local" }
        if let subset = row.subset {
            #expect(result.outcome == .cluster(cluster(subset), endpoints: [subset == "v1" ? "127.0.0.1:9081" : "127.0.0.1:9082"]))
        } else if let weights = row.weights {
            #expect(result.outcome == .weighted(weights.sorted { $0.key < $1.key }.map { .init(cluster($0.key), $0.value) }))
        }
    }
}

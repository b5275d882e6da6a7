import Foundation
import MeshModel
import MeshTesting
import PushPipeline
import Testing
import Translator
import XDS
import XDSCore

/// One row of `Tests/Shared/routing/cases.json` (its `about` says what each field means).
struct RoutingRow: Decodable, Sendable, CustomTestStringConvertible {
    var path: String
    var method: String?
    var headers: [String: String]?
    var namespace: String?
    var proxy: String?
    var route: String
    var subset: String?
    var weights: [String: UInt32]?
    var status: UInt32?
    var cluster: String?
    var forwardedPath: String?
    var forwardedAuthority: String?
    var forwardedHeaders: [String: String]?
    var backendHeaders: [String: String]?
    var responseHeaders: [String: String]?
    var mirrors: [String: UInt32]?
    var cors: String?
    var testDescription: String {
        "\(method ?? "POST") \(path) \(headers ?? [:]) ns=\(namespace ?? "default") \(proxy ?? "proxyless") → \(route)"
    }
}

private struct RoutingTable: Decodable {
    var cases: [RoutingRow]
}

/// The routing table shared with the interop suite: the simulation over meshd's bytes must
/// reach exactly what grpcio's real client reaches for the same requests
/// (Tests/interop/test_routing_table.py runs the same rows), and what Envoy does beyond routing
/// (rewrites, header operations, mirrors, CORS) is checked here for the Envoy issue to inherit.
@Suite struct RoutingTableTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Shared/routing")
    static let rows: [RoutingRow] = {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("cases.json")),
            let table = try? JSONDecoder().decode(RoutingTable.self, from: data)
        else { return [] }
        return table.cases
    }()

    @Test func theTableIsThere() {
        #expect(Self.rows.count >= 25)
    }

    @Test(arguments: rows)
    func eachRowReachesWhatTheTableSays(_ row: RoutingRow) throws {
        let rules = try String(contentsOf: Self.directory.appendingPathComponent("rules.yaml"), encoding: .utf8)
        let push = try context([CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]), rules])
        let kind: ProxyKind = row.proxy == "sidecar" ? .sidecar : .proxylessGRPC
        let proxy = Proxy(id: "client", kind: kind, namespace: row.namespace ?? "default")
        let simulation = try TrafficSimulation(snapshot: ProxySnapshot(proxy: proxy, push: push, table: .testing))
        let cluster = { (subset: String) in "outbound|9080|\(subset)|reviews.default.svc.cluster.local" }
        let request = SimulatedRequest(
            authority: "reviews.default.svc.cluster.local:9080", path: row.path, headers: row.headers ?? [:],
            method: row.method ?? "POST", responseHeaders: row.backendHeaders ?? [:])
        let result = simulation.run(request, cluster: row.cluster.map(cluster))
        #expect(result.route == row.route)
        if let status = row.status {
            #expect(result.outcome == .directResponse(status: status))
        } else if let subset = row.subset {
            #expect(result.outcome == .cluster(cluster(subset), endpoints: [subset == "v1" ? "127.0.0.1:9081" : "127.0.0.1:9082"]))
        } else if let weights = row.weights {
            #expect(result.outcome == .weighted(weights.sorted { $0.key < $1.key }.map { .init(cluster($0.key), $0.value) }))
        }
        if let path = row.forwardedPath { #expect(result.forwarded?.path == path) }
        if let authority = row.forwardedAuthority { #expect(result.forwarded?.authority == authority) }
        if let headers = row.forwardedHeaders { #expect(result.forwarded?.headers == headers) }
        if let headers = row.responseHeaders { #expect(result.responseHeaders == headers) }
        if let mirrors = row.mirrors {
            #expect(result.mirrors == mirrors.sorted { $0.key < $1.key }.map { SimulatedMirror(cluster: cluster($0.key), perMillion: $0.value) })
        }
        let cors: String? =
            switch result.cors {
            case .preflightAllowed?: "preflight-allowed"
            case .preflightDenied(let forwarded)?: forwarded ? "preflight-denied-forwarded" : "preflight-denied-answered"
            case .allowed?: "allowed"
            case .denied?: "denied"
            case nil: nil
            }
        #expect(cors == row.cors)
    }
}

import EtcdAPI
import EtcdStore
import Foundation
import Logging
import MeshModel
import MeshTesting
import Storage
import Testing

/// History on etcd: shared by replicas, expectations confirmed against etcd (never refused on a
/// stale local copy), pruned by the elected replica.
@Suite(.enabled(if: EtcdTestMember.binary != nil, "etcd binary not found (apt-get install etcd-server, or set ETCD_BIN)"))
struct EtcdHistoryTests {
    typealias Contract = StoreFixture

    static func put(_ resource: ConfigResource, _ expected: WriteExpectation?) -> ConfigWrite {
        ConfigWrite(puts: [.init(resource, expected: expected)], metadata: ChangeMetadata(actor: "admin", operation: .apply))
    }

    @Test func aStaleLocalCopyDoesNotAnswerAFalseConflict() async throws {
        try await EtcdTestMember.with { member in
            let prefix = "/stale-\(UUID().uuidString)/"
            try await EtcdClient.withClient(endpoints: [member.endpoint], tls: nil, callTimeout: .seconds(3)) { client in
                // B never runs its watch: its local copy stays as it was opened, empty.
                let b = try await EtcdConfigStore(client: client, keyspace: EtcdKeyspace(prefix: prefix), logger: Logger(label: "b"))
                try await withEtcdStore(member: member, prefix: prefix) { a, _ in
                    let first = try await a.apply([Contract.resource("x", weight: 1)], actor: "loopback 127.0.0.1")
                    let second = try await b.write(Self.put(Contract.resource("x", weight: 2), .revision(first.revision)))
                    #expect(second.results.map(\.action) == [.configured])
                    // A refusal confirmed against etcd stands.
                    do throws(StorageError) {
                        _ = try await b.write(Self.put(Contract.resource("x", weight: 3), .revision(first.revision)))
                        Issue.record("a stale resourceVersion was accepted")
                    } catch {
                        #expect(error.code == .conflict && error.field == "metadata.resourceVersion")
                    }
                    // Both replicas read the same history, written by both.
                    let seenByA = try await a.history(HistoryQuery())
                    let seenByB = try await b.history(HistoryQuery())
                    #expect(seenByA == seenByB)
                    #expect(seenByA.items.map(\.revision) == [second.revision, first.revision])
                    #expect(seenByA.items.map(\.actor) == ["admin", "loopback 127.0.0.1"])
                }
            }
        }
    }

    @Test func theElectedPrunerKeepsTheRetentionAndRaisesTheFloor() async throws {
        try await EtcdTestMember.with { member in
            let prefix = "/prune-\(UUID().uuidString)/"
            try await withEtcdStore(member: member, prefix: prefix) { store, client in
                var revisions: [Int64] = []
                for weight in 1...5 { revisions.append(try await store.apply([Contract.resource("p", weight: weight)]).revision) }
                let pruner = EtcdHistoryPruner(
                    client: client, keyspace: EtcdKeyspace(prefix: prefix), retention: .count(2),
                    interval: .seconds(60), logger: Logger(label: "test"))
                #expect(try await pruner.pruneOnce(now: Date()) == revisions[2])
                #expect(try await pruner.pruneOnce(now: Date()) == nil)
                let page = try await store.history(HistoryQuery())
                #expect(page.items.map(\.revision) == [revisions[4], revisions[3]])
                #expect(page.oldestRevision == revisions[2])
                let window = try await store.historyWindow(after: revisions[2])
                #expect(try HistoryReplay.configuration(at: revisions[2], in: window).values.first == Contract.resource("p", weight: 3))
                #expect(throws: StorageError.self) { try HistoryReplay.configuration(at: revisions[1], in: window) }
            }
        }
    }
}

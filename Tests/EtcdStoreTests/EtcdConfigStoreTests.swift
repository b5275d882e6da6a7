import EtcdAPI
import EtcdStore
import Foundation
import Logging
import MeshModel
import MeshTesting
import Storage
import Testing

/// What only the etcd store does: replicas sharing one etcd, compaction, outages, limits.
@Suite(.enabled(if: EtcdTestMember.binary != nil, "etcd binary not found (apt-get install etcd-server, or set ETCD_BIN)"))
struct EtcdConfigStoreTests {
    typealias Contract = StoreFixture

    /// Polls `condition` until it holds or 10 s pass.
    func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    @Test func aChangeThroughOneReplicaReachesTheOther() async throws {
        try await EtcdTestMember.with { member in
            let prefix = "/shared-\(UUID().uuidString)/"
            try await withEtcdStore(member: member, prefix: prefix) { a, _ in
                try await withEtcdStore(member: member, prefix: prefix) { b, _ in
                    var feed = b.revisions().makeAsyncIterator()
                    let outcome = try await a.apply([Contract.resource("reviews", weight: 3)])
                    #expect(await feed.next() == outcome.revision)
                    let seen = try #require(try await b.get(Contract.key("reviews")))
                    #expect(seen.resource == Contract.resource("reviews", weight: 3))
                    #expect(seen.revision == outcome.revision)
                    let delta = try #require(try await b.delta(after: outcome.revision - 1))
                    #expect(delta.changes.keys.contains(Contract.key("reviews")))
                    // And back: B's delete reaches A.
                    let deleted = try await b.delete([Contract.key("reviews")])
                    #expect(try await eventually { try await a.currentRevision() >= deleted.revision })
                    #expect(try await a.get(Contract.key("reviews")) == nil)
                }
            }
        }
    }

    @Test func concurrentCreatesOfOneKeyByTwoReplicasCreateItOnce() async throws {
        try await EtcdTestMember.with { member in
            let prefix = "/race-\(UUID().uuidString)/"
            try await withEtcdStore(member: member, prefix: prefix) { a, _ in
                try await withEtcdStore(member: member, prefix: prefix) { b, _ in
                    for round in 0..<10 {
                        let name = "race-\(round)"
                        async let fromA = a.apply([Contract.resource(name, weight: 1), Contract.resource("a-\(round)", weight: 1)])
                        async let fromB = b.apply([Contract.resource(name, weight: 2), Contract.resource("b-\(round)", weight: 2)])
                        let (outcomeA, outcomeB) = try await (fromA, fromB)
                        let actions = [outcomeA.results[0].action, outcomeB.results[0].action]
                        // Exactly one replica created the key; the other replaced it, knowingly.
                        #expect(actions.filter { $0 == .created }.count == 1, "round \(round): \(actions)")
                        #expect(actions.filter { $0 == .configured }.count == 1, "round \(round): \(actions)")
                        // Neither lost the other's write of its own key.
                        #expect(
                            try await eventually {
                                let ownA = try await a.get(Contract.key("a-\(round)"))
                                let ownB = try await a.get(Contract.key("b-\(round)"))
                                return ownA != nil && ownB != nil
                            })
                        let winner = max(outcomeA.revision, outcomeB.revision) == outcomeA.revision ? 1 : 2
                        #expect(
                            try await eventually {
                                try await b.get(Contract.key(name))?.resource == Contract.resource(name, weight: winner)
                            })
                    }
                }
            }
        }
    }

    @Test func aReplicaWhoseWatchFellBehindACompactionRelists() async throws {
        try await EtcdTestMember.with { member in
            let prefix = "/compact-\(UUID().uuidString)/"
            try await EtcdClient.withClient(endpoints: [member.endpoint], tls: nil) { client in
                // A is opened (listed) but its watch is not running yet: it falls behind.
                let behind = try await EtcdConfigStore(client: client, keyspace: EtcdKeyspace(prefix: prefix), logger: Logger(label: "a"))
                let opened = try await behind.currentRevision()
                var last: Int64 = 0
                try await withEtcdStore(member: member, prefix: prefix) { writer, _ in
                    for weight in 1...5 {
                        last = try await writer.apply([Contract.resource("r", weight: weight)]).revision
                    }
                    _ = try await writer.delete([Contract.key("r")])
                    last = try await writer.apply([Contract.resource("s", weight: 1)]).revision
                }
                try member.etcdctl(["compact", "\(last)"])
                #expect(try await behind.delta(after: opened) != nil)  // nothing seen yet
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await behind.run() }
                    defer { group.cancelAll() }
                    #expect(try await eventually { try await behind.currentRevision() >= last })
                    let snapshot = try await behind.snapshot()
                    #expect(snapshot.configs.map(\.key.name) == ["s"])
                    // After a relist the old revision is out of the log's reach: read a snapshot.
                    #expect(try await behind.delta(after: opened) == nil)
                }
            }
        }
    }

    @Test func withEtcdDownWritesFailUnavailableAndReadsKeepServing() async throws {
        try await EtcdTestMember.with { member in
            try await withEtcdStore(member: member) { store, _ in
                let applied = try await store.apply([Contract.resource("a", weight: 1)])
                member.stop()
                await #expect(throws: StorageError.self) {
                    do {
                        _ = try await store.apply([Contract.resource("a", weight: 2)])
                    } catch let error as StorageError {
                        #expect(error.code == .unavailable)
                        #expect(error.message.contains("nothing was changed"))
                        throw error
                    }
                }
                #expect(try await store.get(Contract.key("a"))?.resource == Contract.resource("a", weight: 1))
                #expect(try await store.currentRevision() == applied.revision)
                // Back: the watch resumes and writes succeed again.
                try await member.start()
                // The connection comes back within its reconnect backoff (at most about 2 s).
                var next: ChangeOutcome?
                #expect(
                    try await eventually {
                        next = try? await store.apply([Contract.resource("a", weight: 3)])
                        return next != nil
                    })
                #expect((next?.revision ?? 0) > applied.revision)
                #expect(try await store.get(Contract.key("a"))?.resource == Contract.resource("a", weight: 3))
            }
        }
    }

    @Test func anApplyPastEtcdsTransactionLimitsIsTooLargeAndChangesNothing() async throws {
        try await EtcdTestMember.with(["--max-txn-ops", "16", "--max-request-bytes", "65536"]) { member in
            try await withEtcdStore(member: member) { store, _ in
                let many = (0..<20).map { Contract.resource("r\($0)", weight: 1) }
                do {
                    _ = try await store.apply(many)
                    Issue.record("an apply of 20 documents passed --max-txn-ops 16")
                } catch let error as StorageError {
                    #expect(error.code == .tooLarge)
                    #expect(error.message.contains("--max-txn-ops"))
                }
                var big = Contract.resource("big", weight: 1)
                big.annotations["padding"] = String(repeating: "x", count: 100_000)
                do {
                    _ = try await store.apply([big, Contract.resource("small", weight: 1)])
                    Issue.record("a 100 kB apply passed --max-request-bytes 65536")
                } catch let error as StorageError {
                    #expect(error.code == .tooLarge)
                    #expect(error.message.contains("--max-request-bytes"))
                }
                #expect(try await store.list(kind: nil, namespace: nil).isEmpty)
                // Within the limits, one transaction of 16 keys goes through.
                let fits = try await store.apply(Array(many.prefix(15)))
                #expect(fits.results.allSatisfy { $0.action == .created })
            }
        }
    }
}

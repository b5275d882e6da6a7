import EtcdAPI
import EtcdStore
import Foundation
import Logging
import MeshTesting
import Synchronization
import Testing

@Suite(.enabled(if: EtcdTestMember.binary != nil, "etcd binary not found (apt-get install etcd-server, or set ETCD_BIN)"))
struct EtcdElectionTests {
    /// Who ran singleton work, and the most at once.
    final class Record: Sendable {
        let state = Mutex<(running: Set<String>, most: Int, ran: [String])>(([], 0, []))
        func start(_ replica: String) {
            state.withLock { s in
                s.running.insert(replica)
                s.most = max(s.most, s.running.count)
                s.ran.append(replica)
            }
        }
        func stop(_ replica: String) { _ = state.withLock { $0.running.remove(replica) } }
    }

    func poll(_ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    @Test func oneReplicaAtATimeRunsSingletonWorkAndAnotherTakesOverWhenItLeaves() async throws {
        try await EtcdTestMember.with { member in
            try await EtcdClient.withClient(endpoints: [member.endpoint], tls: nil) { client in
                let keyspace = EtcdKeyspace(prefix: "/elect-\(UUID().uuidString)/")
                let record = Record()
                func election(_ name: String) -> EtcdElection {
                    EtcdElection(
                        // A lease far longer than the wait below: only a revoke lets another take over.
                        client: client, keyspace: keyspace, replicaID: name, ttl: 60, retry: .milliseconds(100),
                        logger: Logger(label: name)
                    ) {
                        record.start(name)
                        while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(10)) }
                        record.stop(name)
                    }
                }
                try await withThrowingTaskGroup(of: Void.self) { outer in
                    try await withThrowingTaskGroup(of: Void.self) { first in
                        first.addTask { try await election("a").run() }
                        #expect(await poll { record.state.withLock { $0.running == ["a"] } })
                        // Two more campaign while a leads: neither runs the work.
                        outer.addTask { try await election("b").run() }
                        outer.addTask { try await election("c").run() }
                        try await Task.sleep(for: .milliseconds(500))
                        #expect(record.state.withLock { $0.running } == ["a"])
                        first.cancelAll()
                    }
                    // a left (revoking its lease): b or c takes over, alone.
                    #expect(await poll { record.state.withLock { $0.running.count == 1 && !$0.running.contains("a") } })
                    outer.cancelAll()
                }
                #expect(record.state.withLock { $0.most } == 1, "two replicas ran singleton work at once")
            }
        }
    }

    @Test func theCompactorCompactsToTheRevisionOfTheRoundBefore() async throws {
        try await EtcdTestMember.with { member in
            try await EtcdClient.withClient(endpoints: [member.endpoint], tls: nil) { client in
                var put = Etcdserverpb_TxnRequest()
                put.success = [EtcdClient.put(Data("k".utf8), Data("v".utf8))]
                let first = try await client.txn(put, what: "test").header.revision
                let compactor = EtcdCompactor(client: client, interval: .milliseconds(200), logger: Logger(label: "c"))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await compactor.run() }
                    _ = try await client.txn(put, what: "test")
                    var old = Etcdserverpb_RangeRequest()
                    old.key = Data("k".utf8)
                    old.revision = first
                    let request = old
                    let deadline = ContinuousClock.now + .seconds(15)
                    var gone = false
                    while ContinuousClock.now < deadline, !gone {
                        do {
                            _ = try await client.range(request, what: "old read")
                            _ = try await client.txn(put, what: "test")
                            try await Task.sleep(for: .milliseconds(50))
                        } catch {
                            gone = "\(error)".contains("compacted")
                        }
                    }
                    #expect(gone, "history before the previous round was not compacted")
                    group.cancelAll()
                }
            }
        }
    }
}

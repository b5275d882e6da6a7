import EtcdStore
import Foundation
import Logging
import MeshModel
import MeshTesting
import Synchronization
import Testing

@Suite(.enabled(if: EtcdTestMember.binary != nil, "etcd binary not found (apt-get install etcd-server, or set ETCD_BIN)"))
struct EtcdProxyStatusShareTests {
    @Test func replicasSeeEachOthersProxiesUntilOneLeaves() async throws {
        try await EtcdTestMember.with { member in
            try await EtcdClient.withClient(endpoints: [member.endpoint], tls: nil) { client in
                let keyspace = EtcdKeyspace(prefix: "/share-\(UUID().uuidString)/")
                func entry(_ id: String) -> JSONValue { .object(["proxyID": .string(id), "connectionID": .string("c-\(id)")]) }
                let proxiesOnA = Mutex<[JSONValue]>([entry("p1")])
                let a = EtcdProxyStatusShare(
                    client: client, keyspace: keyspace, replicaID: "a", logger: Logger(label: "a"),
                    interval: .milliseconds(50)
                ) { proxiesOnA.withLock { $0 } }
                let b = EtcdProxyStatusShare(
                    client: client, keyspace: keyspace, replicaID: "b", logger: Logger(label: "b"),
                    interval: .milliseconds(50)
                ) { [] }
                func seenByB() async -> [String] {
                    await b.peerEntries().compactMap { entry in
                        guard case .object(let m) = entry, case .string(let id)? = m["proxyID"], case .string(let r)? = m["replica"]
                        else { return nil }
                        return "\(r)/\(id)"
                    }.sorted()
                }
                func eventually(_ want: [String]) async -> Bool {
                    let deadline = ContinuousClock.now + .seconds(10)
                    while ContinuousClock.now < deadline {
                        if await seenByB() == want { return true }
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                    return false
                }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await a.run() }
                    #expect(await eventually(["a/p1"]))
                    #expect(await a.peerEntries().isEmpty, "a replica does not list its own share as a peer's")
                    proxiesOnA.withLock { $0.append(entry("p2")) }
                    #expect(await eventually(["a/p1", "a/p2"]))
                    // Many proxies at once: written in several bounded transactions, all seen.
                    let many = (0..<250).map { "q\($0)" }
                    proxiesOnA.withLock { $0 = many.map(entry) }
                    #expect(await eventually(many.map { "a/\($0)" }.sorted()))
                    // A disconnect removes just that proxy.
                    proxiesOnA.withLock { $0.removeFirst() }
                    #expect(await eventually(many.dropFirst().map { "a/\($0)" }.sorted()))
                    // A leaves: its lease is revoked and its proxies vanish at once, not after the TTL.
                    group.cancelAll()
                    try? await group.waitForAll()
                    #expect(await eventually([]))
                }
            }
        }
    }
}

import EtcdAPI
import Foundation
import GRPCCore
import Logging
import MeshModel
import ServiceLifecycle
import Storage

/// Shares the proxies connected to this replica with the others through etcd, so proxy status
/// on any replica lists every proxy: one key per proxy stream (`PREFIX proxies/REPLICA/CONN`),
/// its `/debug/syncz` entry as JSON, attached to a lease the replica keeps alive. A replica that
/// dies stops renewing and its keys disappear with the lease (`ttl`); one that shuts down
/// revokes it at once.
///
/// Batched: once per `interval`, the entries that changed since the last round (connects,
/// disconnects, ACKs, NACKs) are written in transactions of at most `maxOpsPerTxn` operations —
/// never one write per ACK, and only what changed, so 10,000 proxies after a config change cost
/// one round of writes, not 10,000 requests or one oversized value.
public final class EtcdProxyStatusShare: Service, Sendable {
    let client: EtcdClient
    let keyspace: EtcdKeyspace
    /// This replica's name in the keys and in the `replica` field of entries.
    public let replicaID: String
    let local: @Sendable () -> [JSONValue]
    let logger: Logger
    let interval: Duration
    /// Lease time-to-live, seconds: how long a dead replica's proxies stay listed.
    let ttl: Int64
    /// Operations per transaction: below etcd's default `--max-txn-ops` (128).
    static let maxOpsPerTxn = 100

    /// Creates the share; `local` returns this replica's entries (called every `interval`).
    public init(
        client: EtcdClient, keyspace: EtcdKeyspace, replicaID: String, logger: Logger,
        interval: Duration = .seconds(1), ttl: Int64 = 10, local: @escaping @Sendable () -> [JSONValue]
    ) {
        self.client = client
        self.keyspace = keyspace
        self.replicaID = replicaID
        self.local = local
        self.logger = logger
        self.interval = interval
        self.ttl = ttl
    }

    public func run() async throws {
        let lease = await cancelWhenGracefulShutdown { await self.loop() }
        if lease != 0 { await revoke(lease) }
    }

    /// Publishes until cancelled; returns the lease held at the end (0: none).
    private func loop() async -> Int64 {
        var lease: Int64 = 0
        // What etcd holds for this replica: connection id -> entry JSON.
        var written: [String: String] = [:]
        var renewed = ContinuousClock.now
        let renewEvery = Duration.seconds(max(1, ttl / 3))
        while !Task.isCancelled {
            do {
                if lease == 0 {
                    lease = try await grant()
                    written = [:]  // a new lease holds nothing: write everything again
                    renewed = .now
                }
                try await sync(current(), written: &written, lease: lease)
                if ContinuousClock.now - renewed >= renewEvery {
                    if try await keepAlive(lease) <= 0 { lease = 0 }  // expired while etcd was away
                    renewed = .now
                }
            } catch {
                // A put with a lease etcd no longer has fails; anything else is etcd trouble,
                // retried next round (the store's probe reports it).
                if "\(error)".contains("lease not found") { lease = 0 }
                logger.debug("sharing proxy status through etcd failed; retrying", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
        return lease
    }

    /// This replica's entries by connection id, as the JSON each key holds.
    private func current() -> [String: String] {
        var entries: [String: String] = [:]
        for entry in local() {
            guard case .object(let members) = entry, case .string(let connection)? = members["connectionID"] else { continue }
            entries[connection] = entry.canonicalJSON()
        }
        return entries
    }

    /// Writes what changed from `written` to `current`, in bounded transactions; `written`
    /// follows each committed transaction, so a failure part-way resumes where it stopped.
    private func sync(_ current: [String: String], written: inout [String: String], lease: Int64) async throws(StorageError) {
        var ops: [(connection: String, value: String?)] = []
        for (connection, value) in current where written[connection] != value { ops.append((connection, value)) }
        for connection in written.keys where current[connection] == nil { ops.append((connection, nil)) }
        var index = 0
        while index < ops.count {
            let chunk = ops[index..<min(ops.count, index + Self.maxOpsPerTxn)]
            var request = Etcdserverpb_TxnRequest()
            request.success = chunk.map { op in
                let key = keyspace.proxies(replica: replicaID) + Data(Self.keySafe(op.connection).utf8)
                return op.value.map { EtcdClient.put(key, Data($0.utf8), lease: lease) } ?? EtcdClient.delete(key)
            }
            _ = try await client.txn(request, what: "share proxy status")
            for op in chunk { written[op.connection] = op.value }
            index += chunk.count
        }
    }

    /// A connection id as one key segment.
    static func keySafe(_ connection: String) -> String {
        connection.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "/", with: "%2F")
    }

    /// The entries the other replicas last shared, each tagged with its `replica`; empty when
    /// etcd cannot be read (a serializable read: any member answers, quorum or not).
    public func peerEntries() async -> [JSONValue] {
        var request = Etcdserverpb_RangeRequest()
        request.key = keyspace.proxiesStart
        request.rangeEnd = EtcdKeyspace.rangeEnd(keyspace.proxiesStart)
        request.serializable = true
        guard let response = try? await client.range(request, what: "read shared proxy status", timeout: .seconds(2)) else {
            return []
        }
        let own = keyspace.proxies(replica: replicaID)
        var entries: [JSONValue] = []
        for kv in response.kvs where !kv.key.starts(with: own) {
            let path = String(decoding: kv.key.dropFirst(keyspace.proxiesStart.count), as: UTF8.self)
            guard let slash = path.lastIndex(of: "/"),
                case .object(var members)? = try? JSONValue.parse(json: String(decoding: kv.value, as: UTF8.self))
            else { continue }
            members["replica"] = .string(String(path[..<slash]))
            entries.append(.object(members))
        }
        return entries
    }

    private func grant() async throws(StorageError) -> Int64 {
        try await client.grantLease(ttl: ttl, what: "grant the proxy-status lease")
    }

    private func keepAlive(_ lease: Int64) async throws(StorageError) -> Int64 {
        try await client.keepAlive(lease: lease, what: "renew the proxy-status lease")
    }

    private func revoke(_ lease: Int64) async {
        await client.revoke(lease: lease, what: "revoke the proxy-status lease")
    }
}

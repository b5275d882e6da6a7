import EtcdAPI
import Foundation
import Logging
import Storage

/// Singleton housekeeping (run by the elected replica, beside `EtcdCompactor`): prunes the
/// config history in etcd to `--history-retention`, raising `PREFIX history-floor` first so
/// a rollback never reaches past what is kept.
public struct EtcdHistoryPruner: Sendable {
    let client: EtcdClient
    let keyspace: EtcdKeyspace
    let retention: HistoryRetention
    let interval: Duration
    let logger: Logger

    /// Most deletes in one transaction: well under etcd's default `--max-txn-ops` (128).
    static let batch = 100

    /// Creates a pruner.
    public init(client: EtcdClient, keyspace: EtcdKeyspace, retention: HistoryRetention, interval: Duration, logger: Logger) {
        self.client = client
        self.keyspace = keyspace
        self.retention = retention
        self.interval = interval
        self.logger = logger
    }

    /// Runs until cancelled.
    public func run() async {
        while !Task.isCancelled {
            do {
                if let through = try await pruneOnce(now: Date()) {
                    logger.info("pruned config history", metadata: ["through_revision": "\(through)"])
                }
            } catch {
                // etcd away, or another replica raced the floor: the next round tries again.
                logger.debug("config history pruning skipped", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// One round: the revision pruned through, or nil when nothing was due.
    public func pruneOnce(now: Date) async throws(StorageError) -> Int64? {
        var range = Etcdserverpb_RangeRequest()
        range.key = keyspace.historyStart
        range.rangeEnd = keyspace.historyEnd
        let listing = try await client.range(range, what: "list the config history")
        var entries: [(key: Data, revision: Int64, time: Date)] = []
        for kv in listing.kvs {
            let time = (try? HistoryCodec.decode(String(decoding: kv.value, as: UTF8.self), revision: kv.createRevision).time) ?? .distantPast
            entries.append((kv.key, kv.createRevision, time))
        }
        guard let through = retention.pruneThrough(entries.map { ($0.revision, $0.time) }, now: now) else { return nil }
        try await raiseFloor(to: through)
        let doomed = entries.filter { $0.revision <= through }.map(\.key)
        for start in stride(from: 0, to: doomed.count, by: Self.batch) {
            var request = Etcdserverpb_TxnRequest()
            request.success = doomed[start..<min(start + Self.batch, doomed.count)].map { EtcdClient.delete($0) }
            _ = try await client.txn(request, what: "prune the config history")
        }
        return through
    }

    /// Sets the floor to `revision` unless it is already higher, guarded by a compare so two
    /// pruners cannot lower it.
    private func raiseFloor(to revision: Int64) async throws(StorageError) {
        let current = try await client.range(floorRequest, what: "read the history floor").kvs.first
        let floor = current.flatMap { Int64(String(decoding: $0.value, as: UTF8.self)) } ?? 0
        guard revision > floor else { return }
        var request = Etcdserverpb_TxnRequest()
        request.compare = [EtcdClient.modRevision(keyspace.historyFloor, is: current?.modRevision ?? 0)]
        request.success = [EtcdClient.put(keyspace.historyFloor, Data(String(revision).utf8))]
        guard try await client.txn(request, what: "raise the history floor").succeeded else {
            throw StorageError(code: .conflict, message: "the history floor changed while pruning")
        }
    }

    private var floorRequest: Etcdserverpb_RangeRequest {
        var request = Etcdserverpb_RangeRequest()
        request.key = keyspace.historyFloor
        return request
    }
}

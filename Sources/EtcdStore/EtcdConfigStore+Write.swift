import EtcdAPI
import Foundation
import MeshModel
import Storage

extension EtcdConfigStore {
    /// Plans `change` against the current records of its keys and commits the plan and its
    /// history record as one transaction that holds only if none of the keys changed since they
    /// were read; re-reads and re-plans when another writer got there first.
    ///
    /// The first attempt plans against the local copy (usually current: no extra round trip).
    /// A failed compare means it was not, and so may a refused expectation (a stale copy must
    /// not answer a false 409): later attempts read the keys from etcd itself, and only a
    /// refusal planned on etcd's own records is final.
    public func write(_ change: ConfigWrite) async throws(StorageError) -> ChangeOutcome {
        let keys = change.keys
        for attempt in 1...maxAttempts {
            let existing: [ConfigKey: StoredConfig]
            if attempt == 1 {
                existing = mirror.withLock { mirror in
                    Dictionary(uniqueKeysWithValues: keys.compactMap { key in mirror.records[key].map { (key, $0) } })
                }
            } else {
                existing = try await read(keys, what: "\(change.metadata.operation)")
            }
            let plan: ChangePlan
            do throws(StorageError) {
                // Revisions are etcd's: the plan's are placeholders, only its decisions are used.
                plan = try ChangePlan.plan(change, existing: existing, nextRevision: 0)
            } catch let error where attempt == 1 && error.code == .conflict {
                logger.debug("write refused against the local copy; confirming against etcd", metadata: ["error": "\(error)"])
                continue
            }
            guard !plan.isEmpty else {
                return ChangeOutcome(revision: mirror.withLock { $0.revision }, results: plan.results)
            }
            let record = HistoryRecord(
                revision: 0, time: Date(), actor: change.metadata.actor, operation: change.metadata.operation,
                rolledBackTo: change.metadata.rolledBackTo, reason: change.metadata.reason, changes: plan.changes)
            var request = Etcdserverpb_TxnRequest()
            request.compare = keys.map { EtcdClient.modRevision(keyspace.key($0), is: existing[$0]?.revision ?? 0) }
            request.success =
                plan.upserts.map { EtcdClient.put(keyspace.key($0.record.key), EtcdKeyspace.encode($0.record.resource)) }
                + plan.deletes.map { EtcdClient.delete(keyspace.key($0)) }
                // A key unique to this change; its create_revision is the transaction's revision.
                + [EtcdClient.put(keyspace.historyKey(UUID()), Data(HistoryCodec.encode(record).utf8))]
            let response = try await client.txn(request, what: "\(change.metadata.operation) of \(keys.count) resource(s)")
            guard response.succeeded else {
                logger.debug(
                    "etcd transaction lost a race with another writer; re-reading",
                    metadata: [
                        "operation": "\(change.metadata.operation)", "attempt": "\(attempt)",
                    ])
                continue
            }
            let revision = response.header.revision
            await waitForCopy(revision)
            return ChangeOutcome(revision: revision, results: plan.results)
        }
        throw StorageError(
            code: .conflict,
            message:
                "\(change.metadata.operation): other meshd replicas changed the same resources \(maxAttempts) times in a row while this write was retried; nothing was changed, try again"
        )
    }

    /// The current records of `keys`, read from etcd in one transaction (one revision).
    func read(_ keys: [ConfigKey], what: String) async throws(StorageError) -> [ConfigKey: StoredConfig] {
        var request = Etcdserverpb_TxnRequest()
        request.success = keys.map { EtcdClient.get(keyspace.key($0)) }
        let response = try await client.txn(request, what: "\(what): read \(keys.count) resource(s)")
        var records: [ConfigKey: StoredConfig] = [:]
        for op in response.responses {
            for kv in op.responseRange.kvs {
                guard let key = keyspace.configKey(kv.key) else { continue }
                records[key] = StoredConfig(
                    resource: try EtcdKeyspace.decode(key, kv.value),
                    revision: kv.modRevision, createdRevision: kv.createRevision)
            }
        }
        return records
    }

    /// Waits (bounded) until the watch has brought the local copy to `revision`, so a read after
    /// a write sees it. A watch that is down does not fail the write: it is durable in etcd.
    func waitForCopy(_ revision: Int64) async {
        let deadline = ContinuousClock.now + catchUpTimeout
        while mirror.withLock({ $0.revision }) < revision, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }
}

import EtcdAPI
import MeshModel
import Storage

extension EtcdConfigStore {
    /// Plans against the current records of `keys` and commits the plan as one transaction that
    /// holds only if none of `keys` changed since they were read; re-reads and re-plans when
    /// another writer got there first.
    ///
    /// The first attempt plans against the local copy (usually current: no extra round trip);
    /// a failed compare means it was not, and later attempts read the keys from etcd itself.
    func write(
        _ what: String, keys: [ConfigKey],
        plan: ([ConfigKey: StoredConfig]) -> (writes: [EtcdWrite], results: [ChangeOutcome.Result])
    ) async throws(StorageError) -> ChangeOutcome {
        for attempt in 1...maxAttempts {
            let existing: [ConfigKey: StoredConfig]
            if attempt == 1 {
                existing = mirror.withLock { mirror in
                    Dictionary(uniqueKeysWithValues: keys.compactMap { key in mirror.records[key].map { (key, $0) } })
                }
            } else {
                existing = try await read(keys, what: what)
            }
            let (writes, results) = plan(existing)
            guard !writes.isEmpty else {
                return ChangeOutcome(revision: mirror.withLock { $0.revision }, results: results)
            }
            var request = Etcdserverpb_TxnRequest()
            request.compare = keys.map { EtcdClient.modRevision(keyspace.key($0), is: existing[$0]?.revision ?? 0) }
            request.success = writes.map { write in
                switch write {
                case .put(let resource): EtcdClient.put(keyspace.key(resource.key), EtcdKeyspace.encode(resource))
                case .delete(let key): EtcdClient.delete(keyspace.key(key))
                }
            }
            let response = try await client.txn(request, what: "\(what) of \(keys.count) resource(s)")
            guard response.succeeded else {
                logger.debug("etcd transaction lost a race with another writer; re-reading", metadata: [
                    "operation": "\(what)", "attempt": "\(attempt)",
                ])
                continue
            }
            let revision = response.header.revision
            await waitForCopy(revision)
            return ChangeOutcome(revision: revision, results: results)
        }
        throw StorageError(code: .conflict,
                           message: "\(what): other writers changed the same resources \(maxAttempts) times in a row; nothing was changed, try again")
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
                records[key] = StoredConfig(resource: try EtcdKeyspace.decode(key, kv.value),
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

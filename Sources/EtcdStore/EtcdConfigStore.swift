import EtcdAPI
import Logging
import MeshModel
import Storage
import Synchronization

/// A `ConfigStore` in etcd, shared by every meshd replica started with the same `--store`.
///
/// - Revisions are etcd's: a record's `revision` is its key's `mod_revision`, its
///   `createdRevision` the key's `create_revision`, so every replica sees the same numbers.
/// - Each write is one etcd transaction, its history record (`PREFIX history/…`) included, guarded by a compare on every key's
///   `mod_revision` as read just before (create-or-replace without losing a concurrent writer's
///   change): when another replica wrote one of the keys in between, the transaction fails as a
///   whole and is re-read, re-planned and retried (at most `maxAttempts` times).
/// - Reads, snapshots and the keyed change feed are answered from a local copy kept current by
///   an etcd watch (`run()`, a lifecycle service) that resumes from the last revision seen and
///   relists when etcd has compacted past it. A write returns once the copy has caught up with
///   it (bounded), so a read after a write sees the write. While etcd is unreachable the copy
///   keeps serving, writes fail with `.unavailable`, and `health` is told.
///
/// Thread-safe; `run()` must be running for changes by other replicas to arrive.
public final class EtcdConfigStore: ConfigStore {
    let client: EtcdClient
    let keyspace: EtcdKeyspace
    let mirror = Mutex(ConfigMirror())
    let broadcaster = RevisionBroadcaster()
    let logger: Logger
    /// Told of etcd trouble (a message) and of its end (nil).
    let health: @Sendable (String?) -> Void
    /// Attempts of one write when other writers keep winning the compare.
    let maxAttempts = 8
    /// How long a write waits for the watch to deliver it before returning anyway.
    let catchUpTimeout: Duration = .seconds(5)

    /// Opens the store: reads the whole config range once (throws `.unavailable` when etcd
    /// cannot be reached), so that the first build sees etcd's config, never an empty one.
    public init(
        client: EtcdClient, keyspace: EtcdKeyspace = EtcdKeyspace(), logger: Logger,
        health: @escaping @Sendable (String?) -> Void = { _ in }
    ) async throws(StorageError) {
        self.client = client
        self.keyspace = keyspace
        self.logger = logger
        self.health = health
        try await relist()
        try await startHistory()
    }

    public func get(_ key: ConfigKey) async throws(StorageError) -> StoredConfig? {
        mirror.withLock { $0.records[key] }
    }

    public func list(kind: ConfigKind?, namespace: String?) async throws(StorageError) -> [StoredConfig] {
        mirror.withLock { $0.records.values.matching(kind: kind, namespace: namespace) }
    }

    public func snapshot() async throws(StorageError) -> ConfigSnapshot {
        mirror.withLock { $0.snapshot }
    }

    public func currentRevision() async throws(StorageError) -> Int64 {
        mirror.withLock { $0.revision }
    }

    public func revisions() -> AsyncStream<Int64> { broadcaster.subscribe() }

    public func delta(after revision: Int64) async throws(StorageError) -> ConfigDelta? {
        mirror.withLock { $0.delta(after: revision) }
    }

    /// Reads the whole config range at one revision into the local copy.
    func relist() async throws(StorageError) {
        var request = Etcdserverpb_RangeRequest()
        request.key = keyspace.configStart
        request.rangeEnd = keyspace.configEnd
        let response = try await client.range(request, what: "list config")
        var configs: [StoredConfig] = []
        for kv in response.kvs {
            guard let key = keyspace.configKey(kv.key) else { continue }
            let resource = try EtcdKeyspace.decode(key, kv.value)
            configs.append(StoredConfig(resource: resource, revision: kv.modRevision, createdRevision: kv.createRevision))
        }
        let revision = response.header.revision
        mirror.withLock { $0.load(configs, revision: revision) }
    }
}

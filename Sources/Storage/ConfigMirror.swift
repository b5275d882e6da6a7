import MeshModel

/// A replicated store's local copy of the config, kept current by a watch (etcd's, or the
/// Kubernetes store's history ledger): what reads, snapshots and the keyed change feed are
/// answered from, and what keeps serving when the backend cannot be reached. A value type with
/// no I/O.
public struct ConfigMirror: Sendable {
    /// An empty copy.
    public init() {}

    /// The revision the copy reflects.
    public private(set) var revision: Int64 = 0
    /// Every resource at `revision`.
    public private(set) var records: [ConfigKey: StoredConfig] = [:]
    /// (revision, key) of every change after `logStart`, oldest first.
    public private(set) var log: [(revision: Int64, key: ConfigKey)] = []
    /// The revision the log is complete from: `delta(after:)` answers for revisions at or after it.
    public private(set) var logStart: Int64 = 0

    /// Most log entries kept; older ones are dropped and `logStart` moves on (a reader that far
    /// behind reads a whole snapshot, as after a relist).
    public static let maxLogEntries = 100_000

    /// Replaces everything with a full listing read at `revision` (the start, or a relist after
    /// etcd compacted past the watch).
    public mutating func load(_ configs: [StoredConfig], revision: Int64) {
        records = Dictionary(configs.map { ($0.key, $0) }, uniquingKeysWith: { $1 })
        self.revision = revision
        log = []
        logStart = revision
    }

    /// One watched change: a put (`record`) or a delete (nil) of `key` at `revision`.
    public mutating func apply(_ key: ConfigKey, record: StoredConfig?, revision: Int64) {
        // The watch starts after `revision`; anything older is a replay and already reflected.
        guard revision > self.revision else { return }
        if let record { records[key] = record } else { records.removeValue(forKey: key) }
        log.append((revision, key))
        if log.count > Self.maxLogEntries {
            let drop = log.count - Self.maxLogEntries
            logStart = log[drop - 1].revision
            log.removeFirst(drop)
        }
    }

    /// Marks the copy current up to `revision` (after a batch of events, or a progress notice).
    public mutating func advance(to revision: Int64) {
        self.revision = max(self.revision, revision)
    }

    /// Every resource, sorted by key.
    public var snapshot: ConfigSnapshot {
        ConfigSnapshot(revision: revision, configs: records.values.sorted { $0.key < $1.key })
    }

    /// The keys changed after `since` with their records now; nil when the log does not reach back.
    public func delta(after since: Int64) -> ConfigDelta? {
        guard since > 0, since >= logStart, since <= revision else { return nil }
        var changes: [ConfigKey: StoredConfig?] = [:]
        // Entries are in revision order: scan back to the first one at or before `since`.
        for entry in log.reversed() {
            guard entry.revision > since else { break }
            if changes[entry.key] == nil { changes[entry.key] = .some(records[entry.key]) }
        }
        return ConfigDelta(since: since, revision: revision, changes: changes)
    }
}

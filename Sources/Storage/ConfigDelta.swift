import MeshModel

/// What changed in a store after some revision, read in one transaction: the keys the change log
/// names, each with its record now (nil when deleted). The keyed change feed the push pipeline
/// builds incrementally from.
public struct ConfigDelta: Sendable, Hashable {
    /// The revision the delta starts after.
    public var since: Int64
    /// The store's revision when the delta was read; the records are as of this revision.
    public var revision: Int64
    /// Each changed key with its current record, or nil when it was deleted.
    public var changes: [ConfigKey: StoredConfig?]

    public init(since: Int64, revision: Int64, changes: [ConfigKey: StoredConfig?]) {
        self.since = since
        self.revision = revision
        self.changes = changes
    }

    /// Whether only WorkloadEntries changed: the change touches endpoints and nothing else, so
    /// only endpoint (EDS) output can differ.
    public var isEndpointsOnly: Bool {
        !changes.isEmpty && changes.keys.allSatisfy { $0.kind == .workloadEntry }
    }
}

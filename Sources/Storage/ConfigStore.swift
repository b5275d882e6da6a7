import MeshModel

/// The seam between meshd and where config lives.
///
/// Contract for every implementation:
/// - `write` (and its conveniences `apply` and `delete`) is all-or-nothing and atomic; a
///   returned success is durable. What it does is decided by `ChangePlan` (pure), so every
///   implementation agrees on results, conflicts and history.
/// - A write that changes something stores its `HistoryRecord` in the same transaction.
/// - Each call that changes something advances the revision (by exactly one in the SQLite and
///   in-memory stores; in etcd the revision is etcd's, shared with meshd's other keys, so it may
///   advance by more); a call that changes nothing (re-applying identical content) leaves the
///   revision alone and notifies nobody.
/// - `revisions()` yields the latest revision after each change (latest-wins; a slow reader may
///   skip intermediate revisions, which is what a debouncer wants).
/// - Safe to call from any task.
public protocol ConfigStore: Sendable {
    /// Commits `write`'s puts and deletes and its history record in one transaction; refuses it
    /// whole (`.conflict`, naming the resource) when an expectation does not hold.
    func write(_ write: ConfigWrite) async throws(StorageError) -> ChangeOutcome
    /// One resource, or nil.
    func get(_ key: ConfigKey) async throws(StorageError) -> StoredConfig?
    /// Resources of a kind (all kinds when nil), optionally in one namespace, sorted by key.
    func list(kind: ConfigKind?, namespace: String?) async throws(StorageError) -> [StoredConfig]
    /// Every resource at one consistent revision.
    func snapshot() async throws(StorageError) -> ConfigSnapshot
    /// The current revision (0 for an empty store).
    func currentRevision() async throws(StorageError) -> Int64
    /// A change feed: each element is the revision after a committed change.
    func revisions() -> AsyncStream<Int64>

    /// The keys changed after `revision` with their current records, in one consistent read;
    /// nil when the change log cannot answer (nothing read yet, or `revision` is not a revision
    /// this store has had), and the caller must read a whole `snapshot()`.
    func delta(after revision: Int64) async throws(StorageError) -> ConfigDelta?

    /// History records matching `query`, newest first, and the oldest revision still reconstructible.
    func history(_ query: HistoryQuery) async throws(StorageError) -> HistoryPage
    /// The current configuration with every history record after `revision`, in one consistent
    /// read: what rollback and diff reconstruct from.
    func historyWindow(after revision: Int64) async throws(StorageError) -> HistoryWindow
}

import Foundation
import MeshModel
import Storage
import Synchronization

/// A `ConfigStore` in memory, with the same write semantics as the SQLite store (both plan with
/// `ChangePlan`) and history; for tests of everything above the store.
public final class InMemoryConfigStore: ConfigStore {
    private struct State {
        var revision: Int64 = 0
        var records: [ConfigKey: StoredConfig] = [:]
        /// (revision, key) of every change, oldest first: the in-memory change log.
        var log: [(revision: Int64, key: ConfigKey)] = []
        /// Every history record kept, oldest first, and the oldest reconstructible revision.
        var history: [HistoryRecord] = []
        var historyFloor: Int64 = 0
    }

    private let state = Mutex(State())
    private let broadcaster = RevisionBroadcaster()

    private let retention: HistoryRetention

    /// An empty store keeping `historyRetention` of history.
    public init(historyRetention: HistoryRetention = .default) {
        retention = historyRetention
    }

    public func write(_ change: ConfigWrite) async throws(StorageError) -> ChangeOutcome {
        let retention = self.retention
        let outcome = try state.withLock { state throws(StorageError) in
            let existing = state.records.filter { change.keys.contains($0.key) }
            let plan = try ChangePlan.plan(change, existing: existing, nextRevision: state.revision + 1)
            guard !plan.isEmpty else { return ChangeOutcome(revision: state.revision, results: plan.results) }
            state.revision += 1
            for write in plan.upserts {
                state.records[write.record.key] = write.record
                state.log.append((state.revision, write.record.key))
            }
            for key in plan.deletes {
                state.records.removeValue(forKey: key)
                state.log.append((state.revision, key))
            }
            let now = Date()
            state.history.append(
                HistoryRecord(
                    revision: state.revision, time: now, actor: change.metadata.actor, operation: change.metadata.operation,
                    rolledBackTo: change.metadata.rolledBackTo, reason: change.metadata.reason, changes: plan.changes))
            if let through = retention.pruneThrough(state.history.map { ($0.revision, $0.time) }, now: now) {
                state.history.removeAll { $0.revision <= through }
                state.historyFloor = max(state.historyFloor, through)
            }
            return ChangeOutcome(revision: state.revision, results: plan.results)
        }
        if outcome.changedAnything { broadcaster.publish(outcome.revision) }
        return outcome
    }

    public func history(_ query: HistoryQuery) async throws(StorageError) -> HistoryPage {
        state.withLock { state in
            let items = state.history.reversed().filter { $0.touches(kind: query.kind, namespace: query.namespace, name: query.name) }
            return HistoryPage(items: Array(items.prefix(query.limit)), oldestRevision: state.historyFloor)
        }
    }

    public func historyWindow(after revision: Int64) async throws(StorageError) -> HistoryWindow {
        state.withLock { state in
            HistoryWindow(
                snapshot: ConfigSnapshot(revision: state.revision, configs: state.records.values.sorted { $0.key < $1.key }),
                records: state.history.filter { $0.revision > revision }, floor: state.historyFloor)
        }
    }

    public func get(_ key: ConfigKey) async throws(StorageError) -> StoredConfig? {
        state.withLock { $0.records[key] }
    }

    public func list(kind: ConfigKind?, namespace: String?) async throws(StorageError) -> [StoredConfig] {
        state.withLock { $0.records.values.matching(kind: kind, namespace: namespace) }
    }

    public func snapshot() async throws(StorageError) -> ConfigSnapshot {
        state.withLock { ConfigSnapshot(revision: $0.revision, configs: $0.records.values.sorted { $0.key < $1.key }) }
    }

    public func currentRevision() async throws(StorageError) -> Int64 { state.withLock { $0.revision } }

    public func revisions() -> AsyncStream<Int64> { broadcaster.subscribe() }

    public func delta(after revision: Int64) async throws(StorageError) -> ConfigDelta? {
        state.withLock { state in
            guard revision > 0, revision <= state.revision else { return nil }
            var changes: [ConfigKey: StoredConfig?] = [:]
            for entry in state.log where entry.revision > revision {
                changes[entry.key] = .some(state.records[entry.key])
            }
            return ConfigDelta(since: revision, revision: state.revision, changes: changes)
        }
    }
}

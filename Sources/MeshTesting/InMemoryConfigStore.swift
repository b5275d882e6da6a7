import MeshModel
import Storage
import Synchronization

/// A `ConfigStore` in memory, with the same apply semantics as the SQLite store (both plan with
/// `ApplyPlan`); for tests of everything above the store.
public final class InMemoryConfigStore: ConfigStore {
    private struct State {
        var revision: Int64 = 0
        var records: [ConfigKey: StoredConfig] = [:]
        /// (revision, key) of every change, oldest first: the in-memory change log.
        var log: [(revision: Int64, key: ConfigKey)] = []
    }

    private let state = Mutex(State())
    private let broadcaster = RevisionBroadcaster()

    public init() {}

    public func apply(_ resources: [ConfigResource]) async throws(StorageError) -> ChangeOutcome {
        let outcome = state.withLock { state in
            let plan = ApplyPlan.apply(resources, existing: state.records, nextRevision: state.revision + 1)
            guard !plan.writes.isEmpty else { return ChangeOutcome(revision: state.revision, results: plan.results) }
            state.revision += 1
            for write in plan.writes {
                state.records[write.record.key] = write.record
                state.log.append((state.revision, write.record.key))
            }
            return ChangeOutcome(revision: state.revision, results: plan.results)
        }
        if outcome.changedAnything { broadcaster.publish(outcome.revision) }
        return outcome
    }

    public func delete(_ keys: [ConfigKey]) async throws(StorageError) -> ChangeOutcome {
        let outcome = state.withLock { state in
            let present = keys.filter { state.records[$0] != nil }
            let results = keys.map { ChangeOutcome.Result(key: $0, action: state.records[$0] == nil ? .notFound : .deleted) }
            guard !present.isEmpty else { return ChangeOutcome(revision: state.revision, results: results) }
            state.revision += 1
            for key in present {
                state.records.removeValue(forKey: key)
                state.log.append((state.revision, key))
            }
            return ChangeOutcome(revision: state.revision, results: results)
        }
        if outcome.changedAnything { broadcaster.publish(outcome.revision) }
        return outcome
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

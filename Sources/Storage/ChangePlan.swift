import Foundation
import MeshModel

/// Decides, without I/O, what a `ConfigWrite` does given the current records of its keys:
/// refuses it when an expectation does not hold (optimistic concurrency), then plans the puts
/// with `ApplyPlan` and the deletes after them, and derives the history record's changes — so
/// every `ConfigStore` implementation agrees on results, conflicts and history.
public struct ChangePlan: Sendable, Hashable {
    /// Records to create or replace (revisions as `ApplyPlan` gives them).
    public var upserts: [ApplyPlan.Write]
    /// Keys to delete.
    public var deletes: [ConfigKey]
    /// Per-resource results: the puts' in request order, then the deletes'.
    public var results: [ChangeOutcome.Result]
    /// What the change does to each resource, before and after; empty when nothing changes.
    public var changes: [HistoryRecord.Change]

    /// Whether the plan writes anything.
    public var isEmpty: Bool { upserts.isEmpty && deletes.isEmpty }

    /// Plans `write` on top of `existing` (the current records of the write's keys; absent
    /// keys do not exist). All writes share `nextRevision`.
    /// - Throws: `.conflict` naming the first resource whose expectation does not hold, with
    ///   field `metadata.resourceVersion`; nothing is planned then.
    public static func plan(_ write: ConfigWrite, existing: [ConfigKey: StoredConfig], nextRevision: Int64) throws(StorageError) -> ChangePlan {
        for put in write.puts {
            try check(put.expected, key: put.resource.key, existing: existing[put.resource.key])
        }
        for delete in write.deletes {
            try check(delete.expected, key: delete.key, existing: existing[delete.key])
        }
        let applied = ApplyPlan.apply(write.puts.map(\.resource), existing: existing, nextRevision: nextRevision)
        var upserts = applied.writes
        var results = applied.results
        var deletes: [ConfigKey] = []
        var present = Set(existing.keys).union(upserts.map(\.record.key))
        for delete in write.deletes {
            // A second mention of a key finds it gone, as a second DELETE would.
            if present.remove(delete.key) != nil {
                deletes.append(delete.key)
                upserts.removeAll { $0.record.key == delete.key }
                results.append(.init(key: delete.key, action: .deleted))
            } else {
                results.append(.init(key: delete.key, action: .notFound))
            }
        }
        var after: [ConfigKey: ConfigResource] = [:]
        for upsert in upserts { after[upsert.record.key] = upsert.record.resource }
        var changes: [HistoryRecord.Change] = []
        for key in write.keys {
            let before = existing[key]?.resource
            let now = deletes.contains(key) ? nil : (after[key] ?? before)
            guard before != now else { continue }
            let action: ConfigAction = before == nil ? .created : now == nil ? .deleted : .configured
            changes.append(.init(key: key, action: action, before: before, after: now))
        }
        // A resource created and deleted by the same write leaves nothing to write.
        if changes.isEmpty { return ChangePlan(upserts: [], deletes: [], results: results, changes: []) }
        deletes.removeAll { existing[$0] == nil }
        return ChangePlan(upserts: upserts, deletes: deletes, results: results, changes: changes)
    }

    /// Refuses a write whose expectation about `key` does not hold.
    private static func check(_ expected: WriteExpectation?, key: ConfigKey, existing: StoredConfig?) throws(StorageError) {
        guard let expected else { return }
        switch (expected, existing) {
        case (.revision(let revision), let stored?) where stored.revision == revision:
            return
        case (.revision(let revision), let stored?):
            throw StorageError.resourceVersionConflict(
                key, "resourceVersion \(revision) is stale: the stored resource is at \(stored.revision); read it again and reapply your change")
        case (.revision(let revision), nil):
            throw StorageError.resourceVersionConflict(
                key, "resourceVersion \(revision) names a resource that does not exist; remove metadata.resourceVersion to create it")
        case (.absent, nil):
            return
        case (.absent, let stored?):
            throw StorageError.resourceVersionConflict(key, "expected no such resource, but one exists at revision \(stored.revision)")
        }
    }
}

extension StorageError {
    /// A write refused because `key` is not as the writer expected: 409 `conflict` naming the
    /// resource and `metadata.resourceVersion`; nothing changed.
    static func resourceVersionConflict(_ key: ConfigKey, _ reason: String) -> StorageError {
        StorageError(
            code: .conflict, message: "\(reason); nothing was changed", resource: key.description,
            field: "metadata.resourceVersion")
    }
}

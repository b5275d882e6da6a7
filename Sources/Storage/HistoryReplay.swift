import MeshModel

/// Reconstructs past configurations from a `HistoryWindow`, without I/O: the configuration
/// right after revision REV is the current one with every recorded change after REV undone,
/// newest first (each resource back to its `before`).
public enum HistoryReplay {
    /// The configuration right after `revision` committed.
    /// - Throws: `.historyPruned` when `revision` is older than the window's floor, `.notFound`
    ///   when it is newer than the window's snapshot.
    public static func configuration(at revision: Int64, in window: HistoryWindow) throws(StorageError) -> [ConfigKey: ConfigResource] {
        try check(revision, window)
        var state = Dictionary(uniqueKeysWithValues: window.snapshot.configs.map { ($0.key, $0.resource) })
        for record in window.records.reversed() where record.revision > revision {
            for change in record.changes.reversed() {
                state[change.key] = change.before
            }
        }
        return state
    }

    /// Refuses a revision the window cannot reconstruct.
    public static func check(_ revision: Int64, _ window: HistoryWindow) throws(StorageError) {
        guard revision <= window.snapshot.revision else {
            throw StorageError(code: .notFound, message: "revision \(revision) is in the future: the current revision is \(window.snapshot.revision)")
        }
        guard revision >= window.floor else {
            throw StorageError(
                code: .historyPruned,
                message:
                    "revision \(revision) is older than the history kept: the oldest revision that can be restored or compared is \(window.floor) (see --history-retention)"
            )
        }
    }

    /// The write that makes the current configuration the one right after `revision`: one
    /// put per resource that differs, one delete per resource that did not exist then — each
    /// expecting the resource as the window read it, so a concurrent change refuses the whole
    /// rollback (409) instead of being silently overwritten. Empty when nothing differs.
    ///
    /// Credentials (`Secret`) are not rolled back, as `kubectl rollout undo` leaves Secrets
    /// alone: a replaced certificate's key is pruned from the vault, and a rollback of routing
    /// must not put a gateway back on a certificate that was rotated away.
    public static func rollback(to revision: Int64, in window: HistoryWindow, actor: String) throws(StorageError) -> ConfigWrite {
        let target = try configuration(at: revision, in: window)
        let current = Dictionary(uniqueKeysWithValues: window.snapshot.configs.map { ($0.key, $0) })
        var write = ConfigWrite(metadata: ChangeMetadata(actor: actor, operation: .rollback, rolledBackTo: revision))
        for key in target.keys.sorted() where key.kind.isAppliedAsDocument {
            guard let resource = target[key], current[key]?.resource != resource else { continue }
            write.puts.append(.init(resource, expected: current[key].map { .revision($0.revision) } ?? .absent))
        }
        for (key, stored) in current.sorted(by: { $0.key < $1.key }) where target[key] == nil && key.kind.isAppliedAsDocument {
            write.deletes.append(.init(key, expected: .revision(stored.revision)))
        }
        return write
    }

    /// What differs between two configurations, by key: created (only in `to`), deleted (only
    /// in `from`) or configured, sorted by key.
    public static func changes(from: [ConfigKey: ConfigResource], to: [ConfigKey: ConfigResource]) -> [ChangeOutcome.Result] {
        Set(from.keys).union(to.keys).sorted().compactMap { key in
            switch (from[key], to[key]) {
            case (nil, _?): ChangeOutcome.Result(key: key, action: .created)
            case (_?, nil): ChangeOutcome.Result(key: key, action: .deleted)
            case (let a?, let b?) where a != b: ChangeOutcome.Result(key: key, action: .configured)
            default: nil
            }
        }
    }
}

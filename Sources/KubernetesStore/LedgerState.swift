import Foundation
import MeshModel
import Storage

/// The configuration the history ledger describes — what every replica serves — and the
/// ledger's retained records. Pure: the store feeds it ledger entries and, on the elected
/// replica, asks it what the API server holds that the ledger does not record yet.
struct LedgerState: Sendable {
    /// The served configuration, at the ledger's head revision, with its keyed change log.
    private(set) var mirror = ConfigMirror()
    /// Retained records by revision (pruned ones are gone).
    private(set) var records: [Int64: HistoryRecord] = [:]
    /// Entries that arrived ahead of a missing one, applied once the gap fills.
    private(set) var pending: [Int64: LedgerEntry] = [:]
    /// The revision history was pruned through (the ledger's floor ConfigMap): records at or
    /// before it are not listed, though the newest entry of each resource still present is kept,
    /// so every replica serves it with the same revisions.
    private(set) var prunedThrough: Int64 = 0

    /// The oldest revision the listed records can reconstruct: 0 before the first entry, then
    /// 1 (the first entry records what the API server held when meshd started keeping the
    /// ledger; nothing before it can be restored), then the revision pruned through.
    var floor: Int64 {
        guard head > 0 || !records.isEmpty else { return 0 }
        let oldestListed = records.keys.filter { $0 > prunedThrough }.min() ?? head + 1
        return max(1, prunedThrough, oldestListed - 1)
    }

    /// The revisions no pruning may delete: each present resource's newest entry.
    var liveRevisions: Set<Int64> { Set(mirror.records.values.map(\.revision)) }

    /// The ledger's head: the revision the served configuration is at.
    var head: Int64 { mirror.revision }

    /// Starts from the ledger as listed and the objects the API server holds.
    ///
    /// A resource takes its content and revisions from the newest retained entry that touched
    /// it. One that no retained entry touched was last changed in a pruned entry, so it is
    /// served as the API server holds it, at the floor revision (when nothing was pruned, an
    /// untouched object is one the ledger has not recorded yet, and is not served).
    mutating func bootstrap(entries: [LedgerEntry], objects: [ConfigKey: IstioObject], prunedThrough: Int64 = 0) {
        let sorted = entries.sorted { $0.revision < $1.revision }
        records = Dictionary(sorted.map { ($0.revision, $0.record) }, uniquingKeysWith: { $1 })
        pending = [:]
        self.prunedThrough = prunedThrough
        mirror.load([], revision: sorted.last?.revision ?? 0)
        let floor = self.floor
        var latest: [ConfigKey: StoredConfig?] = [:]
        for entry in sorted {
            for change in entry.record.changes {
                latest[change.key] = change.after.map {
                    StoredConfig(resource: $0, revision: entry.revision, createdRevision: entry.created[change.key] ?? entry.revision)
                }
            }
        }
        var configs = latest.values.compactMap { $0 }
        // Entries pruned by a meshd that did not keep each resource's newest one.
        if let oldest = sorted.first?.revision, oldest > 1 {
            for (key, object) in objects where latest[key] == nil {
                guard let resource = object.resource else { continue }
                configs.append(StoredConfig(resource: resource, revision: floor, createdRevision: floor))
            }
        }
        mirror.load(configs, revision: sorted.last?.revision ?? 0)
    }

    /// One entry from the ledger watch. Entries apply in revision order: an older one is already
    /// reflected, a newer one waits for the gap before it.
    /// - Returns: whether the served configuration moved on.
    mutating func receive(_ entry: LedgerEntry) -> Bool {
        guard entry.revision > head else {
            // Listed again (a relist): keep it retained, change nothing.
            if records[entry.revision] == nil { records[entry.revision] = entry.record }
            return false
        }
        pending[entry.revision] = entry
        var moved = false
        while let next = pending.removeValue(forKey: head + 1) {
            apply(next)
            moved = true
        }
        return moved
    }

    /// An entry's ConfigMap was deleted (pruned): its record is no longer retained.
    mutating func forget(revision: Int64) {
        records.removeValue(forKey: revision)
        pending.removeValue(forKey: revision)
    }

    /// The ledger's floor ConfigMap says history was pruned through `revision`.
    mutating func pruned(through revision: Int64) {
        prunedThrough = max(prunedThrough, revision)
    }

    /// Whether some entry is waiting for one that has not arrived.
    var hasGap: Bool { !pending.isEmpty }

    /// The next entry for what `objects` (the API server's Istio objects) hold that the served
    /// configuration does not, compared by content; nil when the ledger records everything.
    ///
    /// Changes are taken in key order until their encoded size reaches `maxBytes` (a ConfigMap
    /// holds at most 1 MiB); what does not fit goes into the entry after. The actor is who wrote
    /// the objects (their newest field manager: meshd's own writes carry `meshd:ACTOR`); a
    /// deletion carries none, so `deleters` names those this replica made itself.
    func nextEntry(
        objects: [ConfigKey: IstioObject], deleters: [ConfigKey: FieldManager] = [:], now: Date, maxBytes: Int = 512 * 1024
    ) -> LedgerEntry? {
        let revision = head + 1
        var changes: [HistoryRecord.Change] = []
        var created: [ConfigKey: Int64] = [:]
        var writers: [FieldManager] = []
        var bytes = 0
        let keys = Set(objects.keys).union(mirror.records.keys).sorted()
        for key in keys {
            let before = mirror.records[key]
            let after = objects[key]?.resource
            guard before?.resource != after else { continue }
            var change = HistoryRecord.Change(
                key: key, action: before == nil ? .created : after == nil ? .deleted : .configured, before: before?.resource, after: after)
            var size = Self.size(of: change)
            if size > maxBytes {
                // One resource too big for an entry with both versions (a ConfigMap holds 1 MiB):
                // the version before is left out, so recording goes on; a rollback past this
                // entry cannot restore it. One whose new version alone is too big is not recorded.
                change.before = nil
                size = Self.size(of: change)
                if size > maxBytes { continue }
            }
            if !changes.isEmpty, bytes + size > maxBytes { break }
            bytes += size
            changes.append(change)
            if after != nil { created[key] = before?.createdRevision ?? revision }
            if after != nil, let manager = objects[key]?.manager {
                writers.append(FieldManager(manager))
            } else if after == nil, let deleter = deleters[key] {
                writers.append(deleter)
            }
        }
        guard !changes.isEmpty else { return nil }
        let record = HistoryRecord(
            revision: revision, time: now, actor: FieldManager.actor(of: writers),
            operation: FieldManager.operation(of: writers, allDeletes: changes.allSatisfy { $0.after == nil }),
            rolledBackTo: writers.lazy.compactMap(\.rolledBackTo).first, changes: changes)
        return LedgerEntry(record: record, created: created)
    }

    /// Listed records after `revision` (none at or before the revision pruned through), oldest first.
    func records(after revision: Int64) -> [HistoryRecord] {
        let after = max(revision, prunedThrough)
        return records.values.filter { $0.revision > after }.sorted { $0.revision < $1.revision }
    }

    private mutating func apply(_ entry: LedgerEntry) {
        for change in entry.record.changes {
            let record = change.after.map {
                StoredConfig(resource: $0, revision: entry.revision, createdRevision: entry.created[change.key] ?? entry.revision)
            }
            mirror.apply(change.key, record: record, revision: entry.revision)
        }
        mirror.advance(to: entry.revision)
        records[entry.revision] = entry.record
    }

    /// What a change adds to an entry's ConfigMap, near enough to keep entries below the limit.
    private static func size(of change: HistoryRecord.Change) -> Int {
        let encode = { (resource: ConfigResource?) in resource.map { ResourceEnvelope.encode($0).canonicalJSON().utf8.count } ?? 0 }
        return 200 + encode(change.before) + encode(change.after)
    }
}

/// A field manager name as the ledger reads it: meshd's own writes are managed by
/// `meshd:ACTOR` (or `meshd:rollback@REV:ACTOR` for a rollback), so the change's record names
/// the admin API's caller; any other manager (`kubectl-client-side-apply`) is recorded as
/// `kubernetes:MANAGER`.
struct FieldManager: Sendable, Hashable {
    /// The actor the record names.
    var actor: String
    /// The revision a rollback restored.
    var rolledBackTo: Int64?

    /// The field manager meshd writes `metadata` with for `metadata`'s change. Kubernetes takes
    /// at most 128 printable characters.
    static func name(for metadata: ChangeMetadata) -> String {
        let rollback = metadata.operation == .rollback ? "rollback@\(metadata.rolledBackTo ?? 0):" : ""
        let printable = String(String.UnicodeScalarView(metadata.actor.unicodeScalars.filter { (0x20..<0x7F).contains($0.value) }))
        return String(("meshd:" + rollback + printable).prefix(128))
    }

    /// A manager with `actor`.
    init(actor: String, rolledBackTo: Int64? = nil) {
        self.actor = actor
        self.rolledBackTo = rolledBackTo
    }

    /// Reads a manager name.
    init(_ manager: String) {
        guard manager.hasPrefix("meshd:") else {
            self.actor = "kubernetes:\(manager)"
            return
        }
        var rest = Substring(manager.dropFirst("meshd:".count))
        if rest.hasPrefix("rollback@"), let colon = rest.firstIndex(of: ":"),
            let revision = Int64(rest[rest.index(rest.startIndex, offsetBy: "rollback@".count)..<colon])
        {
            rolledBackTo = revision
            rest = rest[rest.index(after: colon)...]
        }
        actor = String(rest)
    }

    /// The record's actor: the writers' distinct actors, or `kubernetes` when no object said
    /// who wrote it (deletions carry no manager).
    static func actor(of writers: [FieldManager]) -> String {
        var seen: Set<String> = []
        let actors = writers.map(\.actor).filter { seen.insert($0).inserted }
        return actors.isEmpty ? "kubernetes" : actors.joined(separator: ", ")
    }

    /// `rollback` when a writer was meshd rolling back, `delete` when the entry only deletes,
    /// else `apply`.
    static func operation(of writers: [FieldManager], allDeletes: Bool) -> ChangeOperation {
        if writers.contains(where: { $0.rolledBackTo != nil }) { return .rollback }
        return allDeletes ? .delete : .apply
    }
}

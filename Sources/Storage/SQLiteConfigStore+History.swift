import GRDB
import MeshModel

extension SQLiteConfigStore {
    public func history(_ query: HistoryQuery) async throws(StorageError) -> HistoryPage {
        try await read("history") { db in
            var items: [HistoryRecord] = []
            try HistoryRow.newestFirst(db) { record in
                if record.touches(kind: query.kind, namespace: query.namespace, name: query.name) { items.append(record) }
                return items.count < query.limit
            }
            return HistoryPage(items: items, oldestRevision: try Meta.get(db, "history_floor"))
        }
    }

    public func historyWindow(after revision: Int64) async throws(StorageError) -> HistoryWindow {
        // One read transaction: the configuration, the records and the floor agree.
        try await read("history window") { db in
            HistoryWindow(
                snapshot: ConfigSnapshot(revision: try Self.revision(db), configs: try ConfigRow.fetchAll(db, kind: nil, namespace: nil)),
                records: try HistoryRow.after(db, revision), floor: try Meta.get(db, "history_floor"))
        }
    }
}

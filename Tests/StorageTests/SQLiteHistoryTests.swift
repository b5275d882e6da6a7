import Foundation
import MeshModel
import Testing

@testable import Storage

/// History on the embedded store: durable, pruned inside writes, with the floor rollback obeys.
@Suite struct SQLiteHistoryTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshd-history-\(UUID().uuidString)")

    func resource(_ name: String, weight: Int) -> ConfigResource {
        ConfigResource(
            key: ConfigKey(kind: .virtualService, namespace: "default", name: name),
            apiVersion: "networking.istio.io/v1", spec: .object(["weight": .number(Double(weight))]))
    }

    @Test func historySurvivesReopening() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            let store = try SQLiteConfigStore(directory: directory)
            _ = try await store.apply([resource("a", weight: 1)], actor: "admin")
            _ = try await store.apply([resource("a", weight: 2)], actor: "loopback 127.0.0.1")
        }
        let reopened = try SQLiteConfigStore(directory: directory)
        let page = try await reopened.history(HistoryQuery())
        #expect(page.items.map(\.revision) == [2, 1])
        #expect(page.items.map(\.actor) == ["loopback 127.0.0.1", "admin"])
        #expect(page.items[0].changes[0].before == resource("a", weight: 1))
        #expect(page.oldestRevision == 0)
    }

    @Test func countRetentionPrunesInsideWritesAndRaisesTheFloor() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteConfigStore(directory: directory, historyRetention: .count(3))
        for weight in 1...6 { _ = try await store.apply([resource("a", weight: weight)]) }
        let page = try await store.history(HistoryQuery())
        #expect(page.items.map(\.revision) == [6, 5, 4])
        #expect(page.oldestRevision == 3)
        let window = try await store.historyWindow(after: 2)
        #expect(try HistoryReplay.configuration(at: 3, in: window) == [resource("a", weight: 0).key: resource("a", weight: 3)])
        do throws(StorageError) {
            _ = try HistoryReplay.configuration(at: 2, in: window)
            Issue.record("revision 2 is older than the history kept")
        } catch {
            #expect(error.code == .historyPruned)
        }
    }

    @Test func ageRetentionPrunesRecordsOlderThanTheAge() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteConfigStore(directory: directory, historyRetention: .age(3600))
        _ = try await store.apply([resource("a", weight: 1)])
        _ = try await store.apply([resource("a", weight: 2)])
        // Age the first two records by two hours, as if written then.
        try await store.pool.write { db in try db.execute(sql: "UPDATE history SET time = time - 7200") }
        _ = try await store.apply([resource("a", weight: 3)])
        let page = try await store.history(HistoryQuery())
        #expect(page.items.map(\.revision) == [3])
        #expect(page.oldestRevision == 2)
    }

    @Test func aStoreFromBeforeHistoryStartsItsFloorAtItsRevision() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        // A v1-only database with two revisions of config and no history.
        do {
            let store = try SQLiteConfigStore(directory: directory)
            _ = try await store.apply([resource("a", weight: 1)])
            _ = try await store.apply([resource("b", weight: 1)])
            try await store.pool.write { db in
                try db.execute(
                    sql:
                        "DROP TABLE history; DELETE FROM meta WHERE key = 'history_floor'; DELETE FROM grdb_migrations WHERE identifier = 'v2-history'"
                )
            }
        }
        let migrated = try SQLiteConfigStore(directory: directory)
        #expect(try await migrated.history(HistoryQuery()).oldestRevision == 2)
    }

    @Test func theChangeLogIsBoundedAndDeltaAnswersNilBelowIt() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteConfigStore(directory: directory)
        _ = try await store.apply([resource("a", weight: 0)])
        // Jump the revision to just below a pruning point, far past the kept window.
        try await store.pool.write { db in try db.execute(sql: "UPDATE meta SET value = 20479 WHERE key = 'revision'") }
        _ = try await store.apply([resource("a", weight: 1)])  // revision 20480: a multiple of 256
        #expect(try await store.delta(after: 1) == nil)
        let recent = try #require(try await store.delta(after: 20480 - SQLiteConfigStore.changeLogRevisions))
        #expect(recent.changes.keys.contains(resource("a", weight: 0).key))
        let remaining = try await store.changes(after: 0)
        #expect(remaining.allSatisfy { $0.revision > 20480 - SQLiteConfigStore.changeLogRevisions })
    }
}

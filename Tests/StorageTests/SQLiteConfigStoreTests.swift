import Foundation
import MeshModel
import Testing

@testable import Storage

@Suite struct SQLiteConfigStoreTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshd-store-\(UUID().uuidString)")

    func resource(_ name: String, weight: Int) -> ConfigResource {
        ConfigResource(
            key: ConfigKey(kind: .virtualService, namespace: "default", name: name),
            apiVersion: "networking.istio.io/v1",
            spec: .object(["hosts": .array([.string(name)]), "weight": .number(Double(weight))]))
    }

    @Test func applyCreatesConfiguresAndLeavesIdenticalContentAlone() async throws {
        let store = try SQLiteConfigStore(directory: directory)
        let created = try await store.apply([resource("a", weight: 1), resource("b", weight: 1)])
        #expect(created.revision == 1)
        #expect(created.results.map(\.action) == [.created, .created])

        let same = try await store.apply([resource("a", weight: 1)])
        #expect(same.revision == 1)
        #expect(same.results.map(\.action) == [.unchanged])

        let changed = try await store.apply([resource("a", weight: 2), resource("b", weight: 1)])
        #expect(changed.revision == 2)
        #expect(changed.results.map(\.action) == [.configured, .unchanged])
        let stored = try #require(try await store.get(resource("a", weight: 0).key))
        #expect(stored.revision == 2 && stored.createdRevision == 1)
    }

    @Test func committedConfigSurvivesReopeningWithTheSameRevisions() async throws {
        do {
            let store = try SQLiteConfigStore(directory: directory)
            _ = try await store.apply([resource("a", weight: 1)])
            _ = try await store.delete([resource("missing", weight: 0).key])
            _ = try await store.apply([resource("b", weight: 3)])
        }
        let reopened = try SQLiteConfigStore(directory: directory)
        let snapshot = try await reopened.snapshot()
        #expect(snapshot.revision == 2)
        #expect(snapshot.configs.map(\.key.name) == ["a", "b"])
        #expect(snapshot.configs[1].resource == resource("b", weight: 3))
        let feed = try await reopened.changes(after: 0)
        #expect(feed.map(\.revision) == [1, 2])
    }

    @Test func deleteReportsMissingKeysAndAdvancesOnlyWhenSomethingWent() async throws {
        let store = try SQLiteConfigStore(directory: directory)
        _ = try await store.apply([resource("a", weight: 1)])
        let missing = try await store.delete([resource("zzz", weight: 0).key])
        #expect(missing.revision == 1 && missing.results.map(\.action) == [.notFound])
        let deleted = try await store.delete([resource("a", weight: 0).key])
        #expect(deleted.revision == 2 && deleted.results.map(\.action) == [.deleted])
        #expect(try await store.list(kind: .virtualService, namespace: nil).isEmpty)
    }

    @Test func changeFeedNotifiesOnlyRealChanges() async throws {
        let store = try SQLiteConfigStore(directory: directory)
        var revisions = store.revisions().makeAsyncIterator()
        _ = try await store.apply([resource("a", weight: 1)])
        #expect(await revisions.next() == 1)
        _ = try await store.apply([resource("a", weight: 1)])
        _ = try await store.apply([resource("a", weight: 5)])
        #expect(await revisions.next() == 2)
    }
}

import Foundation
import MeshModel
import MeshTesting
import Storage
import Testing

/// The `ConfigStore` contract, checked the same way against every implementation. Revisions
/// are compared relative to each other: SQLite's advance by one, etcd's are etcd's own.
enum ConfigStoreContract {
    static func resource(_ name: String, weight: Int) -> ConfigResource { StoreFixture.resource(name, weight: weight) }

    static func key(_ name: String) -> ConfigKey { StoreFixture.key(name) }

    static func applyCreatesConfiguresAndLeavesIdenticalContentAlone(_ store: any ConfigStore) async throws {
        let before = try await store.currentRevision()
        let created = try await store.apply([resource("a", weight: 1), resource("b", weight: 1)])
        #expect(created.revision > before)
        #expect(created.results.map(\.action) == [.created, .created])

        let same = try await store.apply([resource("a", weight: 1)])
        #expect(same.revision == created.revision)
        #expect(same.results.map(\.action) == [.unchanged])

        let changed = try await store.apply([resource("a", weight: 2), resource("b", weight: 1)])
        #expect(changed.revision > created.revision)
        #expect(changed.results.map(\.action) == [.configured, .unchanged])
        let stored = try #require(try await store.get(key("a")))
        #expect(stored.revision == changed.revision && stored.createdRevision == created.revision)
        #expect(stored.resource == resource("a", weight: 2))
        #expect(try await store.currentRevision() == changed.revision)
    }

    static func repeatedKeysInOneApplyEndWithTheLastDocument(_ store: any ConfigStore) async throws {
        let outcome = try await store.apply([resource("a", weight: 1), resource("a", weight: 7)])
        #expect(outcome.results.map(\.action) == [.created, .configured])
        #expect(try await store.get(key("a"))?.resource == resource("a", weight: 7))
    }

    static func deleteReportsMissingKeysAndAdvancesOnlyWhenSomethingWent(_ store: any ConfigStore) async throws {
        let applied = try await store.apply([resource("a", weight: 1)])
        let missing = try await store.delete([key("zzz")])
        #expect(missing.revision == applied.revision && missing.results.map(\.action) == [.notFound])
        let deleted = try await store.delete([key("a"), key("zzz")])
        #expect(deleted.revision > applied.revision && deleted.results.map(\.action) == [.deleted, .notFound])
        #expect(try await store.list(kind: .virtualService, namespace: nil).isEmpty)
        #expect(try await store.get(key("a")) == nil)
    }

    static func changeFeedNotifiesOnlyRealChanges(_ store: any ConfigStore) async throws {
        var revisions = store.revisions().makeAsyncIterator()
        let first = try await store.apply([resource("a", weight: 1)])
        #expect(await revisions.next() == first.revision)
        _ = try await store.apply([resource("a", weight: 1)])
        let second = try await store.apply([resource("a", weight: 5)])
        #expect(await revisions.next() == second.revision)
    }

    static func deltaNamesChangedAndDeletedKeysAfterARevision(_ store: any ConfigStore) async throws {
        let start = try await store.apply([resource("a", weight: 1), resource("b", weight: 1), resource("c", weight: 1)])
        _ = try await store.apply([resource("a", weight: 2)])
        _ = try await store.delete([key("b")])
        let delta = try #require(try await store.delta(after: start.revision))
        #expect(Set(delta.changes.keys) == [key("a"), key("b")])
        #expect(delta.changes[key("a")]??.resource == resource("a", weight: 2))
        #expect(delta.changes[key("b")]! == nil)
        #expect(delta.revision == (try await store.currentRevision()))
        let snapshot = try await store.snapshot()
        #expect(snapshot.revision == delta.revision)
        #expect(snapshot.configs.map(\.key.name) == ["a", "c"])
    }

    static func listFiltersByKindAndNamespaceInKeyOrder(_ store: any ConfigStore) async throws {
        let other = ConfigResource(
            key: ConfigKey(kind: .destinationRule, namespace: "prod", name: "x"),
            spec: .object(["host": .string("x")]))
        _ = try await store.apply([resource("b", weight: 1), other, resource("a", weight: 1)])
        #expect(try await store.list(kind: .virtualService, namespace: nil).map(\.key.name) == ["a", "b"])
        #expect(try await store.list(kind: nil, namespace: "prod").map(\.key) == [other.key])
        #expect(try await store.list(kind: nil, namespace: nil).count == 3)
    }

    /// Every check, by name.
    static let checks: [(name: String, run: @Sendable (any ConfigStore) async throws -> Void)] =
        [
            ("apply creates, configures and leaves identical content alone", applyCreatesConfiguresAndLeavesIdenticalContentAlone),
            ("repeated keys in one apply end with the last document", repeatedKeysInOneApplyEndWithTheLastDocument),
            ("delete reports missing keys and advances only when something went", deleteReportsMissingKeysAndAdvancesOnlyWhenSomethingWent),
            ("the change feed notifies only real changes", changeFeedNotifiesOnlyRealChanges),
            ("delta names changed and deleted keys after a revision", deltaNamesChangedAndDeletedKeysAfterARevision),
            ("list filters by kind and namespace in key order", listFiltersByKindAndNamespaceInKeyOrder),
        ] + historyChecks
}

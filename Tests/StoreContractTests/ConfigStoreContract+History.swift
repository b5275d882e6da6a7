import Foundation
import MeshModel
import Storage
import Testing

/// The history, optimistic-concurrency and rollback parts of the `ConfigStore` contract.
extension ConfigStoreContract {
    static func writesRecordHistoryInTheirOwnTransaction(_ store: any ConfigStore) async throws {
        let created = try await store.apply([resource("a", weight: 1)], actor: "admin")
        _ = try await store.apply([resource("a", weight: 1)], actor: "admin")  // unchanged: no record
        let configured = try await store.apply([resource("a", weight: 2), resource("b", weight: 1)], actor: "loopback 127.0.0.1")
        let deleted = try await store.delete([key("a"), key("zzz")], actor: "trusted 10.0.0.5")
        let page = try await store.history(HistoryQuery())
        #expect(page.items.map(\.revision) == [deleted.revision, configured.revision, created.revision])
        #expect(page.items.map(\.operation) == [.delete, .apply, .apply])
        #expect(page.items.map(\.actor) == ["trusted 10.0.0.5", "loopback 127.0.0.1", "admin"])
        let change = try #require(page.items.first?.changes.first)
        #expect(change.key == key("a") && change.action == .deleted && change.after == nil)
        #expect(change.before == resource("a", weight: 2))
        #expect(page.items.first?.changes.count == 1)
        #expect(page.items[1].changes.map(\.action) == [.configured, .created])
        #expect(page.items[1].changes[0].before == resource("a", weight: 1))
        #expect(page.items[1].changes[0].after == resource("a", weight: 2))
        #expect(page.oldestRevision < created.revision)
        // Filters keep the records that touched a matching resource; the limit the newest.
        #expect(try await store.history(HistoryQuery(name: "b")).items.map(\.revision) == [configured.revision])
        #expect(try await store.history(HistoryQuery(kind: .destinationRule)).items.isEmpty)
        #expect(try await store.history(HistoryQuery(limit: 1)).items.map(\.revision) == [deleted.revision])
    }

    static func aStaleResourceVersionIsAConflictAndChangesNothing(_ store: any ConfigStore) async throws {
        let first = try await store.apply([resource("a", weight: 1)])
        let update = ConfigWrite(
            puts: [.init(resource("a", weight: 2), expected: .revision(first.revision))],
            metadata: ChangeMetadata(actor: "admin", operation: .apply))
        let second = try await store.write(update)
        #expect(second.results.map(\.action) == [.configured])
        let historyBefore = try await store.history(HistoryQuery()).items.count
        var refused: [ConfigWrite] = []
        // Stale, naming a resource that does not exist, and expecting absence of one that exists.
        refused.append(
            ConfigWrite(
                puts: [.init(resource("a", weight: 3), expected: .revision(first.revision))],
                metadata: ChangeMetadata(actor: "admin", operation: .apply)))
        refused.append(
            ConfigWrite(
                puts: [.init(resource("b", weight: 3)), .init(resource("nope", weight: 1), expected: .revision(second.revision))],
                metadata: ChangeMetadata(actor: "admin", operation: .apply)))
        refused.append(
            ConfigWrite(
                puts: [.init(resource("a", weight: 3), expected: .absent)], deletes: [.init(key("b"))],
                metadata: ChangeMetadata(actor: "admin", operation: .rollback)))
        for write in refused {
            do throws(StorageError) {
                _ = try await store.write(write)
                Issue.record("expected a conflict for \(write.puts.map(\.resource.key))")
            } catch {
                #expect(error.code == .conflict)
                #expect(error.field == "metadata.resourceVersion")
                #expect(error.resource?.hasPrefix("VirtualService default/") == true)
            }
        }
        #expect(try await store.currentRevision() == second.revision)
        #expect(try await store.get(key("a"))?.resource == resource("a", weight: 2))
        #expect(try await store.get(key("b")) == nil)
        #expect(try await store.history(HistoryQuery()).items.count == historyBefore)
    }

    static func rollbackRestoresTheConfigurationRightAfterARevision(_ store: any ConfigStore) async throws {
        let r1 = try await store.apply([resource("a", weight: 1), resource("b", weight: 1)]).revision
        _ = try await store.apply([resource("a", weight: 2)])
        _ = try await store.write(
            ConfigWrite(
                puts: [.init(resource("c", weight: 1))], deletes: [.init(key("b"))],
                metadata: ChangeMetadata(actor: "admin", operation: .apply)))
        let window = try await store.historyWindow(after: r1)
        #expect(try HistoryReplay.configuration(at: r1, in: window) == [key("a"): resource("a", weight: 1), key("b"): resource("b", weight: 1)])
        let write = try HistoryReplay.rollback(to: r1, in: window, actor: "admin")
        let outcome = try await store.write(write)
        #expect(outcome.results.map(\.action) == [.configured, .created, .deleted])
        let now = try await store.snapshot()
        #expect(now.configs.map(\.resource) == [resource("a", weight: 1), resource("b", weight: 1)])
        let record = try #require(try await store.history(HistoryQuery(limit: 1)).items.first)
        #expect(record.revision == outcome.revision && record.operation == .rollback && record.rolledBackTo == r1)
        // Restoring what is already current plans nothing.
        let again = try await store.historyWindow(after: outcome.revision)
        let nothing = try HistoryReplay.rollback(to: outcome.revision, in: again, actor: "admin")
        #expect(nothing.puts.isEmpty && nothing.deletes.isEmpty)
        // A revision in the future is not found.
        #expect(throws: StorageError.self) { try HistoryReplay.configuration(at: now.revision + 1000, in: again) }
    }

    static func aRollbackRacingAnotherWriteChangesNothing(_ store: any ConfigStore) async throws {
        let r1 = try await store.apply([resource("a", weight: 1)]).revision
        _ = try await store.apply([resource("a", weight: 2)])
        let window = try await store.historyWindow(after: r1)
        let rollback = try HistoryReplay.rollback(to: r1, in: window, actor: "admin")
        let racing = try await store.apply([resource("a", weight: 3)])
        do throws(StorageError) {
            _ = try await store.write(rollback)
            Issue.record("a rollback planned before a concurrent write must be refused")
        } catch {
            #expect(error.code == .conflict)
        }
        #expect(try await store.currentRevision() == racing.revision)
        #expect(try await store.get(key("a"))?.resource == resource("a", weight: 3))
    }

    static let historyChecks: [(name: String, run: @Sendable (any ConfigStore) async throws -> Void)] = [
        ("writes record history in their own transaction", writesRecordHistoryInTheirOwnTransaction),
        ("a stale resourceVersion is a conflict and changes nothing", aStaleResourceVersionIsAConflictAndChangesNothing),
        ("rollback restores the configuration right after a revision", rollbackRestoresTheConfigurationRightAfterARevision),
        ("a rollback racing another write changes nothing", aRollbackRacingAnotherWriteChangesNothing),
    ]
}

import Foundation
import MeshModel
import Testing

@testable import Storage

/// The pure decisions every store shares: expectations (optimistic concurrency), results and
/// the history record's changes.
private func vs(_ name: String, _ weight: Int) -> ConfigResource {
    ConfigResource(
        key: ConfigKey(kind: .virtualService, namespace: "default", name: name),
        spec: .object(["weight": .number(Double(weight))]))
}

@Suite struct ChangePlanTests {
    static let existing: [ConfigKey: StoredConfig] = [
        vs("a", 1).key: StoredConfig(resource: vs("a", 1), revision: 7, createdRevision: 3)
    ]

    static func write(_ puts: [ConfigWrite.Put], deletes: [ConfigWrite.Delete] = []) -> ConfigWrite {
        ConfigWrite(puts: puts, deletes: deletes, metadata: ChangeMetadata(actor: "admin", operation: .apply))
    }

    /// (expectation on `a` (exists at 7) or on `b` (absent), conflict?)
    static let table: [(String, ConfigWrite.Put, Bool)] = [
        ("unset on an existing resource replaces it", .init(vs("a", 2)), false),
        ("the stored revision replaces it", .init(vs("a", 2), expected: .revision(7)), false),
        ("an older revision is stale", .init(vs("a", 2), expected: .revision(6)), true),
        ("a newer revision is stale too", .init(vs("a", 2), expected: .revision(8)), true),
        ("unset on a missing resource creates it", .init(vs("b", 2)), false),
        ("a revision on a missing resource is a conflict", .init(vs("b", 2), expected: .revision(7)), true),
        ("absent on a missing resource creates it", .init(vs("b", 2), expected: .absent), false),
        ("absent on an existing resource is a conflict", .init(vs("a", 2), expected: .absent), true),
    ]

    @Test(arguments: table.indices)
    func expectations(_ index: Int) throws {
        let (label, put, conflicts) = Self.table[index]
        do throws(StorageError) {
            let plan = try ChangePlan.plan(Self.write([put]), existing: Self.existing, nextRevision: 8)
            #expect(!conflicts, "\(label)")
            #expect(plan.upserts.map(\.record.resource) == [put.resource], "\(label)")
        } catch {
            #expect(conflicts, "\(label): \(error)")
            #expect(error.code == .conflict && error.field == "metadata.resourceVersion", "\(label)")
            #expect(error.resource == put.resource.key.description, "\(label)")
        }
    }

    @Test func oneFailedExpectationRefusesTheWholeWrite() {
        let write = Self.write([.init(vs("b", 1)), .init(vs("a", 2), expected: .revision(1))])
        #expect(throws: StorageError.self) { try ChangePlan.plan(write, existing: Self.existing, nextRevision: 8) }
    }

    @Test func putsAndDeletesPlanTogetherWithBeforeAndAfter() throws {
        let write = Self.write([.init(vs("b", 1))], deletes: [.init(vs("a", 0).key), .init(vs("zzz", 0).key)])
        let plan = try ChangePlan.plan(write, existing: Self.existing, nextRevision: 8)
        #expect(plan.results.map(\.action) == [.created, .deleted, .notFound])
        #expect(plan.deletes == [vs("a", 0).key])
        #expect(
            plan.changes == [
                .init(key: vs("b", 0).key, action: .created, before: nil, after: vs("b", 1)),
                .init(key: vs("a", 0).key, action: .deleted, before: vs("a", 1), after: nil),
            ])
    }

    @Test func identicalContentPlansNothing() throws {
        let plan = try ChangePlan.plan(Self.write([.init(vs("a", 1), expected: .revision(7))]), existing: Self.existing, nextRevision: 8)
        #expect(plan.isEmpty && plan.changes.isEmpty && plan.results.map(\.action) == [.unchanged])
    }

    @Test func createdThenDeletedInOneWriteLeavesNothing() throws {
        let plan = try ChangePlan.plan(
            Self.write([.init(vs("b", 1))], deletes: [.init(vs("b", 0).key)]),
            existing: Self.existing, nextRevision: 8)
        #expect(plan.isEmpty && plan.changes.isEmpty)
    }
}

/// `--history-retention` and what it prunes.
@Suite struct HistoryRetentionTests {
    @Test func parsesCountsAndAges() {
        #expect(HistoryRetention.parse("1000") == .count(1000))
        #expect(HistoryRetention.parse("7d") == .age(7 * 86400))
        #expect(HistoryRetention.parse("12h") == .age(12 * 3600))
        #expect(HistoryRetention.parse("90m") == .age(5400))
        // meshd's one duration grammar: compound ages and fractions that make whole seconds.
        #expect(HistoryRetention.parse("1d12h") == .age(36 * 3600))
        #expect(HistoryRetention.parse("1.5d") == .age(36 * 3600))
        for bad in ["0", "-5", "", "d", "7w", "1.5s", "9223372036854775807d", "x"] {
            #expect(HistoryRetention.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func pruneThroughKeepsTheNewestCountOrAge() {
        let now = Date(timeIntervalSince1970: 100_000)
        let records = (1...5).map { (revision: Int64($0 * 10), time: now.addingTimeInterval(Double($0 - 5) * 3600)) }
        #expect(HistoryRetention.count(2).pruneThrough(records, now: now) == 30)
        #expect(HistoryRetention.count(5).pruneThrough(records, now: now) == nil)
        // Records at -4h..0h: older than 2.5h are the ones at -3h and -4h.
        #expect(HistoryRetention.age(2.5 * 3600).pruneThrough(records, now: now) == 20)
        // The newest record stays whatever its age.
        #expect(HistoryRetention.age(60).pruneThrough([(revision: 9, time: .distantPast)], now: now) == nil)
    }
}

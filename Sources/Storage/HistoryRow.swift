import Foundation
import GRDB

/// Row mapping for the `history` table and the floors kept in `meta`.
enum HistoryRow {
    static func insert(_ db: Database, _ record: HistoryRecord) throws {
        try db.execute(
            sql: "INSERT INTO history(revision, time, record) VALUES (?, ?, ?)",
            arguments: [record.revision, record.time.timeIntervalSince1970, HistoryCodec.encode(record)])
    }

    /// Records newest first, decoded one at a time until `body` returns false.
    static func newestFirst(_ db: Database, _ body: (HistoryRecord) -> Bool) throws {
        let rows = try Row.fetchCursor(db, sql: "SELECT revision, record FROM history ORDER BY revision DESC")
        while let row = try rows.next() {
            guard body(try HistoryCodec.decode(row["record"], revision: row["revision"])) else { return }
        }
    }

    /// Records after `revision`, oldest first.
    static func after(_ db: Database, _ revision: Int64) throws -> [HistoryRecord] {
        try Row.fetchAll(db, sql: "SELECT revision, record FROM history WHERE revision > ? ORDER BY revision", arguments: [revision])
            .map { row throws in try HistoryCodec.decode(row["record"], revision: row["revision"]) }
    }

    /// Prunes what `retention` lets go and raises the floor to the newest pruned revision.
    /// Runs inside each write: one indexed lookup either way.
    static func prune(_ db: Database, _ retention: HistoryRetention, now: Date) throws {
        let through: Int64?
        switch retention {
        case .count(let n):
            through = try Int64.fetchOne(db, sql: "SELECT revision FROM history ORDER BY revision DESC LIMIT 1 OFFSET ?", arguments: [n])
        case .age(let seconds):
            // As `HistoryRetention.pruneThrough`: the newest record stays whatever its age.
            through = try Int64.fetchOne(
                db,
                sql: """
                    SELECT MAX(revision) FROM history
                    WHERE time < ? AND revision < (SELECT MAX(revision) FROM history)
                    """, arguments: [now.timeIntervalSince1970 - seconds])
        }
        guard let through else { return }
        try db.execute(sql: "DELETE FROM history WHERE revision <= ?", arguments: [through])
        try Meta.raise(db, "history_floor", to: through)
    }
}

/// The integer values of the `meta` table.
enum Meta {
    static func get(_ db: Database, _ key: String) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]) ?? 0
    }

    static func set(_ db: Database, _ key: String, _ value: Int64) throws {
        try db.execute(
            sql: "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            arguments: [key, value])
    }

    /// Sets `key` to `value` unless it is already higher: floors only rise.
    static func raise(_ db: Database, _ key: String, to value: Int64) throws {
        try set(db, key, max(try get(db, key), value))
    }
}

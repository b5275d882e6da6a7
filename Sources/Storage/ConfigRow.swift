import Foundation
import GRDB
import MeshModel

/// Row mapping for the `config` table. Specs are stored as canonical JSON so that identical
/// content always compares equal and hashes the same after a restart.
enum ConfigRow {
    static func fetch(_ db: Database, key: ConfigKey) throws -> StoredConfig? {
        let row = try Row.fetchOne(
            db, sql: "SELECT * FROM config WHERE kind = ? AND namespace = ? AND name = ?",
            arguments: [key.kind.rawValue, key.namespace, key.name])
        return try row.map(decode)
    }

    static func fetchAll(_ db: Database, kind: ConfigKind?, namespace: String?) throws -> [StoredConfig] {
        var clauses: [String] = []
        var arguments: StatementArguments = []
        if let kind {
            clauses.append("kind = ?")
            arguments += [kind.rawValue]
        }
        if let namespace {
            clauses.append("namespace = ?")
            arguments += [namespace]
        }
        let whereClause = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        return try Row.fetchAll(db, sql: "SELECT * FROM config \(whereClause) ORDER BY kind, namespace, name", arguments: arguments)
            .map(decode)
    }

    static func upsert(_ db: Database, _ record: StoredConfig) throws {
        let r = record.resource
        try db.execute(
            sql: """
                INSERT INTO config(kind, namespace, name, api_version, labels, annotations, spec, status, revision, created_revision)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(kind, namespace, name) DO UPDATE SET
                  api_version = excluded.api_version, labels = excluded.labels, annotations = excluded.annotations,
                  spec = excluded.spec, status = excluded.status, revision = excluded.revision
                """,
            arguments: [
                r.key.kind.rawValue, r.key.namespace, r.key.name, r.apiVersion,
                encode(r.labels), encode(r.annotations), r.spec.canonicalJSON(), r.status?.canonicalJSON(),
                record.revision, record.createdRevision,
            ])
    }

    /// Returns whether a row was deleted.
    static func delete(_ db: Database, key: ConfigKey) throws -> Bool {
        try db.execute(
            sql: "DELETE FROM config WHERE kind = ? AND namespace = ? AND name = ?",
            arguments: [key.kind.rawValue, key.namespace, key.name])
        return db.changesCount > 0
    }

    private static func decode(_ row: Row) throws -> StoredConfig {
        let kindName: String = row["kind"]
        guard let kind = ConfigKind(rawValue: kindName) else {
            throw StorageError(code: .database, message: "unknown kind \(kindName) in the config table")
        }
        let key = ConfigKey(kind: kind, namespace: row["namespace"], name: row["name"])
        let resource = ConfigResource(
            key: key,
            apiVersion: row["api_version"],
            labels: try decodeMap(row["labels"]),
            annotations: try decodeMap(row["annotations"]),
            spec: try JSONValue.parse(json: row["spec"]),
            status: kind.hasStatus ? try (row["status"] as String?).map { try JSONValue.parse(json: $0) } : nil)
        return StoredConfig(resource: resource, revision: row["revision"], createdRevision: row["created_revision"])
    }

    private static func encode(_ map: [String: String]) -> String {
        JSONValue.object(map.mapValues { .string($0) }).canonicalJSON()
    }

    private static func decodeMap(_ text: String) throws -> [String: String] {
        guard case .object(let object) = try JSONValue.parse(json: text) else { return [:] }
        return object.compactMapValues { if case .string(let s) = $0 { s } else { nil } }
    }
}

/// One entry of the change feed.
public struct ConfigChange: Sendable, Hashable {
    public var revision: Int64
    public var key: ConfigKey
    public var action: ConfigAction
}

enum ChangeRow {
    static func insert(_ db: Database, revision: Int64, key: ConfigKey, action: ConfigAction) throws {
        try db.execute(
            sql: "INSERT INTO change_log(revision, kind, namespace, name, action) VALUES (?, ?, ?, ?, ?)",
            arguments: [revision, key.kind.rawValue, key.namespace, key.name, action.rawValue])
    }

    /// Bounds the change log: every 256th revision, drops the entries older than the last
    /// `keep` revisions and records the new floor, below which `delta` answers nil.
    static func prune(_ db: Database, revision: Int64, keep: Int64) throws {
        guard revision % 256 == 0, revision > keep else { return }
        try db.execute(sql: "DELETE FROM change_log WHERE revision <= ?", arguments: [revision - keep])
        try Meta.raise(db, "change_log_floor", to: revision - keep)
    }

    static func fetch(_ db: Database, after revision: Int64) throws -> [ConfigChange] {
        try Row.fetchAll(db, sql: "SELECT * FROM change_log WHERE revision > ? ORDER BY rowid", arguments: [revision])
            .compactMap { row in
                guard let kind = ConfigKind(rawValue: row["kind"]), let action = ConfigAction(rawValue: row["action"]) else { return nil }
                return ConfigChange(
                    revision: row["revision"], key: ConfigKey(kind: kind, namespace: row["namespace"], name: row["name"]), action: action)
            }
    }
}

import Foundation
import GRDB
import MeshModel

/// The embedded default `ConfigStore`: one SQLite file (WAL, `synchronous=FULL`) through GRDB.
///
/// A success returned by `apply`/`delete` has been committed and fsynced, so it survives
/// `kill -9` and power loss. Writes are serialised by GRDB's writer; reads run concurrently.
public final class SQLiteConfigStore: ConfigStore {
    let pool: DatabasePool
    private let broadcaster = RevisionBroadcaster()
    /// How much history to keep; pruned inside each write.
    private let retention: HistoryRetention

    /// Revisions of the keyed change feed kept: a reader further behind reads a whole snapshot.
    static let changeLogRevisions: Int64 = 10_000

    /// Opens (creating if needed) `config.db` in `directory` and migrates it to the latest schema.
    ///
    /// `config.db` and its `-wal`/`-shm` files are mode 0600 (existing ones are tightened): the
    /// store holds every routing rule of the mesh. A missing `directory` is created 0700.
    public init(directory: URL, historyRetention: HistoryRetention = .default) throws(StorageError) {
        retention = historyRetention
        let path = directory.appendingPathComponent("config.db").path
        do {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            // SQLite creates the file with 0644 minus the umask, and gives -wal/-shm the main
            // file's mode: creating it 0600 first covers all three.
            try Self.restrictFileModes(path)
            var configuration = Configuration()
            configuration.prepareDatabase { db in
                // FULL makes each WAL commit durable before apply returns.
                try db.execute(sql: "PRAGMA synchronous = FULL")
                // Deleted rows are overwritten, so a pruned credential's key does not linger in
                // free pages.
                try db.execute(sql: "PRAGMA secure_delete = ON")
            }
            pool = try DatabasePool(path: path, configuration: configuration)
            try StoreMigrations.migrator.migrate(pool)
            try Self.restrictFileModes(path)
        } catch {
            throw StorageError(code: .database, message: "cannot open the config store in \(directory.path)", cause: error)
        }
    }

    /// Creates `path` empty with mode 0600 when missing (an empty file is an empty SQLite
    /// database) and sets it and its existing `-wal`/`-shm` files to 0600.
    private static func restrictFileModes(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        if fd >= 0 {
            close(fd)
        } else if errno != EEXIST {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        }
    }

    public func write(_ change: ConfigWrite) async throws(StorageError) -> ChangeOutcome {
        let retention = self.retention
        let outcome: ChangeOutcome = try await write("write") { db in
            let revision = try Self.revision(db)
            var existing: [ConfigKey: StoredConfig] = [:]
            for key in change.keys {
                if let record = try ConfigRow.fetch(db, key: key) { existing[key] = record }
            }
            let next = revision + 1
            let plan = try ChangePlan.plan(change, existing: existing, nextRevision: next)
            guard !plan.isEmpty else { return ChangeOutcome(revision: revision, results: plan.results) }
            for write in plan.upserts {
                try ConfigRow.upsert(db, write.record)
                try ChangeRow.insert(db, revision: next, key: write.record.key, action: write.action)
            }
            for key in plan.deletes {
                _ = try ConfigRow.delete(db, key: key)
                try ChangeRow.insert(db, revision: next, key: key, action: .deleted)
            }
            let now = Date()
            try HistoryRow.insert(
                db,
                HistoryRecord(
                    revision: next, time: now, actor: change.metadata.actor, operation: change.metadata.operation,
                    rolledBackTo: change.metadata.rolledBackTo, reason: change.metadata.reason, changes: plan.changes))
            try HistoryRow.prune(db, retention, now: now)
            try ChangeRow.prune(db, revision: next, keep: Self.changeLogRevisions)
            try Self.setRevision(db, next)
            return ChangeOutcome(revision: next, results: plan.results)
        }
        if outcome.changedAnything { broadcaster.publish(outcome.revision) }
        return outcome
    }

    public func get(_ key: ConfigKey) async throws(StorageError) -> StoredConfig? {
        try await read("get \(key)") { db in try ConfigRow.fetch(db, key: key) }
    }

    public func list(kind: ConfigKind?, namespace: String?) async throws(StorageError) -> [StoredConfig] {
        try await read("list") { db in try ConfigRow.fetchAll(db, kind: kind, namespace: namespace) }
    }

    public func snapshot() async throws(StorageError) -> ConfigSnapshot {
        // One read transaction: the revision and the rows are consistent with each other.
        try await read("snapshot") { db in
            ConfigSnapshot(revision: try Self.revision(db), configs: try ConfigRow.fetchAll(db, kind: nil, namespace: nil))
        }
    }

    public func currentRevision() async throws(StorageError) -> Int64 {
        try await read("revision") { db in try Self.revision(db) }
    }

    public func revisions() -> AsyncStream<Int64> { broadcaster.subscribe() }

    public func delta(after revision: Int64) async throws(StorageError) -> ConfigDelta? {
        try await read("delta") { db in
            let current = try Self.revision(db)
            guard revision > 0, revision <= current, revision >= (try Meta.get(db, "change_log_floor")) else { return nil }
            var changes: [ConfigKey: StoredConfig?] = [:]
            for change in try ChangeRow.fetch(db, after: revision) where changes[change.key] == nil {
                changes[change.key] = .some(try ConfigRow.fetch(db, key: change.key))
            }
            return ConfigDelta(since: revision, revision: current, changes: changes)
        }
    }

    /// The change feed as recorded: every change after `revision`, oldest first.
    public func changes(after revision: Int64) async throws(StorageError) -> [ConfigChange] {
        try await read("changes") { db in try ChangeRow.fetch(db, after: revision) }
    }

    // MARK: - Helpers

    static func revision(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'revision'") ?? 0
    }

    private static func setRevision(_ db: Database, _ revision: Int64) throws {
        try db.execute(
            sql: "INSERT INTO meta(key, value) VALUES('revision', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            arguments: [revision])
    }

    func write<T: Sendable>(_ what: String, _ body: @escaping @Sendable (Database) throws -> T) async throws(StorageError) -> T {
        do { return try await pool.write(body) } catch let error as StorageError {
            // A refusal decided by the plan (a conflict), not a database failure.
            throw error
        } catch {
            throw StorageError(code: .database, message: "config store \(what) failed", cause: error)
        }
    }

    func read<T: Sendable>(_ what: String, _ body: @escaping @Sendable (Database) throws -> T) async throws(StorageError) -> T {
        do { return try await pool.read(body) } catch {
            throw StorageError(code: .database, message: "config store \(what) failed", cause: error)
        }
    }
}

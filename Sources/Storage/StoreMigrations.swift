import GRDB

/// The schema, as an ordered list of migrations; a migration once shipped is never edited.
enum StoreMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-config") { db in
            try db.execute(sql: """
                CREATE TABLE config (
                    kind TEXT NOT NULL,
                    namespace TEXT NOT NULL,
                    name TEXT NOT NULL,
                    api_version TEXT NOT NULL,
                    labels TEXT NOT NULL,
                    annotations TEXT NOT NULL,
                    spec TEXT NOT NULL,
                    revision INTEGER NOT NULL,
                    created_revision INTEGER NOT NULL,
                    PRIMARY KEY (kind, namespace, name)
                );
                CREATE TABLE change_log (
                    revision INTEGER NOT NULL,
                    kind TEXT NOT NULL,
                    namespace TEXT NOT NULL,
                    name TEXT NOT NULL,
                    action TEXT NOT NULL
                );
                CREATE INDEX change_log_revision ON change_log(revision);
                CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                """)
        }
        return migrator
    }
}

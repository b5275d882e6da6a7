import GRDB

/// The schema, as an ordered list of migrations; a migration once shipped is never edited.
enum StoreMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-config") { db in
            try db.execute(
                sql: """
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
        // History: one row per committed change, written in the change's own transaction.
        // `history_floor` is the oldest revision history can reconstruct: the revision the store
        // had when history began (earlier changes were never recorded), raised by pruning.
        migrator.registerMigration("v2-history") { db in
            try db.execute(
                sql: """
                    CREATE TABLE history (
                        revision INTEGER PRIMARY KEY,
                        time REAL NOT NULL,
                        record TEXT NOT NULL
                    );
                    CREATE INDEX history_time ON history(time);
                    INSERT INTO meta(key, value)
                        VALUES ('history_floor', COALESCE((SELECT value FROM meta WHERE key = 'revision'), 0));
                    """)
        }
        // Gateway credentials' key material, by digest (`CredentialVault`); their public half
        // is a `Secret` row of `config`.
        migrator.registerMigration("v3-credential-material") { db in
            try db.execute(
                sql: """
                    CREATE TABLE credential_material (
                        namespace TEXT NOT NULL,
                        name TEXT NOT NULL,
                        digest TEXT NOT NULL,
                        chain TEXT NOT NULL,
                        key TEXT NOT NULL,
                        ca TEXT,
                        PRIMARY KEY (namespace, name, digest)
                    );
                    """)
        }
        // The status meshd writes of its own kinds (a Canary's progress); NULL for the others.
        migrator.registerMigration("v4-config-status") { db in
            try db.execute(sql: "ALTER TABLE config ADD COLUMN status TEXT")
        }
        return migrator
    }
}

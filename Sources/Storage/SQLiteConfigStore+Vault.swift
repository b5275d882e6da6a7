import GRDB
import MeshModel

/// The embedded store's credential vault: table `credential_material` of `config.db` (mode
/// 0600, like the rest of the file).
extension SQLiteConfigStore: CredentialVault {
    public func storeMaterial(_ material: CredentialMaterial, namespace: String, name: String) async throws(StorageError) {
        try await write("store credential material of \(namespace)/\(name)") { db in
            try db.execute(
                sql: """
                    INSERT INTO credential_material(namespace, name, digest, chain, key, ca) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT(namespace, name, digest) DO NOTHING
                    """,
                arguments: [
                    namespace, name, material.digest, material.certificateChainPEM, material.privateKeyPEM,
                    material.caCertificatesPEM,
                ])
        }
    }

    public func material(namespace: String, name: String, digest: String) async throws(StorageError) -> CredentialMaterial? {
        try await read("read credential material of \(namespace)/\(name)") { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT chain, key, ca FROM credential_material WHERE namespace = ? AND name = ? AND digest = ?",
                    arguments: [namespace, name, digest])
            else { return nil }
            return CredentialMaterial(certificateChainPEM: row["chain"], privateKeyPEM: row["key"], caCertificatesPEM: row["ca"], digest: digest)
        }
    }

    public func pruneMaterial(namespace: String, name: String, keeping digest: String?) async throws(StorageError) {
        try await write("prune credential material of \(namespace)/\(name)") { db in
            try db.execute(
                sql: "DELETE FROM credential_material WHERE namespace = ? AND name = ? AND digest IS NOT ?",
                arguments: [namespace, name, digest])
        }
    }
}

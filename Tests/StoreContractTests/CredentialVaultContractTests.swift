import EtcdAPI
import EtcdStore
import Foundation
import MeshModel
import MeshTesting
import Storage
import Testing

/// The `CredentialVault` contract against the SQLite file, etcd (sealed) and the in-memory vault
/// the other tests use.
@Suite struct CredentialVaultContractTests {
    static func material(_ tag: String, ca: Bool = false) -> CredentialMaterial {
        CredentialMaterial(
            certificateChainPEM: "-----BEGIN CERTIFICATE-----\nchain-\(tag)\n-----END CERTIFICATE-----\n",
            privateKeyPEM: "-----BEGIN PRIVATE KEY-----\nkey-body-\(tag)\n-----END PRIVATE KEY-----\n",
            caCertificatesPEM: ca ? "-----BEGIN CERTIFICATE-----\nca-\(tag)\n-----END CERTIFICATE-----\n" : nil,
            digest: "sha256:" + String(repeating: tag, count: 64 / tag.count))
    }

    static func keepsTheContract(_ vault: any CredentialVault) async throws {
        let first = material("a", ca: true)
        let second = material("b")
        try await vault.storeMaterial(first, namespace: "istio-system", name: "gw-cred")
        try await vault.storeMaterial(first, namespace: "istio-system", name: "gw-cred")  // again: no change
        try await vault.storeMaterial(second, namespace: "istio-system", name: "gw-cred")
        try await vault.storeMaterial(second, namespace: "ns-2", name: "gw-cred")
        #expect(try await vault.material(namespace: "istio-system", name: "gw-cred", digest: first.digest) == first)
        #expect(try await vault.material(namespace: "istio-system", name: "gw-cred", digest: second.digest) == second)
        #expect(try await vault.material(namespace: "istio-system", name: "other", digest: first.digest) == nil)
        #expect(try await vault.material(namespace: "ns-3", name: "gw-cred", digest: second.digest) == nil)

        try await vault.pruneMaterial(namespace: "istio-system", name: "gw-cred", keeping: second.digest)
        #expect(try await vault.material(namespace: "istio-system", name: "gw-cred", digest: first.digest) == nil)
        #expect(try await vault.material(namespace: "istio-system", name: "gw-cred", digest: second.digest) == second)

        try await vault.pruneMaterial(namespace: "istio-system", name: "gw-cred", keeping: nil)
        #expect(try await vault.material(namespace: "istio-system", name: "gw-cred", digest: second.digest) == nil)
        #expect(try await vault.material(namespace: "ns-2", name: "gw-cred", digest: second.digest) == second, "another namespace's is kept")
        // A name that is a prefix of another is pruned alone.
        try await vault.storeMaterial(first, namespace: "ns-2", name: "gw-cred-2")
        try await vault.pruneMaterial(namespace: "ns-2", name: "gw-cred", keeping: nil)
        #expect(try await vault.material(namespace: "ns-2", name: "gw-cred-2", digest: first.digest) == first)
    }

    @Test func sqliteVaultKeepsTheContractInItsOwnerOnlyFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshd-vault-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteConfigStore(directory: directory)
        try await Self.keepsTheContract(store)
        let mode = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("config.db").path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func inMemoryVaultKeepsTheContract() async throws {
        try await Self.keepsTheContract(InMemoryCredentialVault())
    }

    @Test(.enabled(if: EtcdTestMember.binary != nil, "etcd binary not found (apt-get install etcd-server, or set ETCD_BIN)"))
    func etcdVaultKeepsTheContractSealed() async throws {
        try await EtcdTestMember.with { member in
            try await EtcdClient.withClient(endpoints: [member.endpoint], tls: nil) { client in
                let keyspace = EtcdKeyspace(prefix: "/vault-\(UUID().uuidString)/")
                let kek = try KeyEncryptionKey(bytes: Array(repeating: 5, count: 32))
                let vault = EtcdCredentialVault(client: client, keyspace: keyspace, kek: kek)
                try await Self.keepsTheContract(vault)

                // In etcd the material is sealed: no key byte in the clear, and another KEK cannot open it.
                let stored = Self.material("c", ca: true)
                try await vault.storeMaterial(stored, namespace: "default", name: "sealed")
                var request = Etcdserverpb_RangeRequest()
                request.key = keyspace.vaultKey(namespace: "default", name: "sealed", digest: stored.digest)
                let value = try #require(try await client.range(request, what: "test").kvs.first?.value)
                #expect(value.range(of: Data("key-body-c".utf8)) == nil)
                #expect(value.range(of: Data("chain-c".utf8)) == nil)
                let other = EtcdCredentialVault(client: client, keyspace: keyspace, kek: try KeyEncryptionKey(bytes: Array(repeating: 6, count: 32)))
                await #expect(throws: StorageError.self) {
                    _ = try await other.material(namespace: "default", name: "sealed", digest: stored.digest)
                }
            }
        }
    }
}

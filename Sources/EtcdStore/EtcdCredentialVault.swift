import EtcdAPI
import Foundation
import MeshModel
import Storage

/// The credential vault of replicas on etcd: one key per credential and digest,
/// `PREFIX vault/NAMESPACE/NAME/DIGEST`, its value the material's JSON sealed with the
/// key-encryption key (AES-256-GCM bound to the key's name, so a sealed value moved to another
/// key does not open). No key byte is stored in etcd in the clear.
public struct EtcdCredentialVault: CredentialVault {
    let client: EtcdClient
    let keyspace: EtcdKeyspace
    let kek: KeyEncryptionKey

    /// A vault in `keyspace`, sealing with `kek`.
    public init(client: EtcdClient, keyspace: EtcdKeyspace, kek: KeyEncryptionKey) {
        self.client = client
        self.keyspace = keyspace
        self.kek = kek
    }

    private struct Sealed: Codable {
        var chain: String
        var key: String
        var ca: String?
    }

    public func storeMaterial(_ material: CredentialMaterial, namespace: String, name: String) async throws(StorageError) {
        let key = keyspace.vaultKey(namespace: namespace, name: name, digest: material.digest)
        let sealed: Data
        do {
            let plaintext = try JSONEncoder().encode(
                Sealed(chain: material.certificateChainPEM, key: material.privateKeyPEM, ca: material.caCertificatesPEM))
            sealed = Data(try kek.seal(Array(plaintext), context: Array(key)))
        } catch {
            throw StorageError(code: .database, message: "cannot seal the credential material of \(namespace)/\(name)")
        }
        var request = Etcdserverpb_TxnRequest()
        request.success = [EtcdClient.put(key, sealed)]
        _ = try await client.txn(request, what: "store the credential material of \(namespace)/\(name)")
    }

    public func material(namespace: String, name: String, digest: String) async throws(StorageError) -> CredentialMaterial? {
        let key = keyspace.vaultKey(namespace: namespace, name: name, digest: digest)
        var request = Etcdserverpb_RangeRequest()
        request.key = key
        guard let value = try await client.range(request, what: "read the credential material of \(namespace)/\(name)").kvs.first?.value else {
            return nil
        }
        do {
            let opened = try JSONDecoder().decode(Sealed.self, from: Data(try kek.open(Array(value), context: Array(key))))
            return CredentialMaterial(certificateChainPEM: opened.chain, privateKeyPEM: opened.key, caCertificatesPEM: opened.ca, digest: digest)
        } catch {
            throw StorageError(
                code: .database,
                message:
                    "the credential material of \(namespace)/\(name) in etcd does not open with this --kek-file (every replica needs the same key)")
        }
    }

    public func pruneMaterial(namespace: String, name: String, keeping digest: String?) async throws(StorageError) {
        let start = keyspace.vaultKey(namespace: namespace, name: name, digest: "")
        var request = Etcdserverpb_RangeRequest()
        request.key = start
        request.rangeEnd = EtcdKeyspace.rangeEnd(start)
        request.keysOnly = true
        let keys = try await client.range(request, what: "list the credential material of \(namespace)/\(name)").kvs.map(\.key)
        let keep = digest.map { keyspace.vaultKey(namespace: namespace, name: name, digest: $0) }
        let doomed = keys.filter { $0 != keep }
        guard !doomed.isEmpty else { return }
        var txn = Etcdserverpb_TxnRequest()
        txn.success = doomed.map(EtcdClient.delete)
        _ = try await client.txn(txn, what: "prune the credential material of \(namespace)/\(name)")
    }
}

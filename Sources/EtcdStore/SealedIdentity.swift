import EtcdAPI
import Foundation
import Storage

/// The secrets every replica of one cluster must share, kept in etcd under
/// `PREFIX identity`, sealed with the key-encryption key.
public struct ClusterSecrets: Sendable, Codable, Hashable {
    /// The self-signed root certificate (PEM).
    public var rootCertificatePEM: String
    /// Its private key (PEM).
    public var rootKeyPEM: String
    /// The workload-token signing key (PEM, P-256).
    public var tokenSigningKeyPEM: String
    /// The admin API's bearer token.
    public var adminToken: String

    /// Creates a set of secrets.
    public init(rootCertificatePEM: String, rootKeyPEM: String, tokenSigningKeyPEM: String, adminToken: String) {
        self.rootCertificatePEM = rootCertificatePEM
        self.rootKeyPEM = rootKeyPEM
        self.tokenSigningKeyPEM = tokenSigningKeyPEM
        self.adminToken = adminToken
    }
}

/// Reads the cluster's secrets from etcd, or stores new ones when there are none yet: the first
/// replica to start creates them, in a transaction that writes only if the key is still absent,
/// so two replicas starting at once agree on one set.
public enum SealedIdentity {
    /// Why the stored identity cannot be used.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The stored secrets, or `make()`'s, stored now. `created` says which.
    ///
    /// Throws `Refusal` when the stored record cannot be opened with `kek` (another key sealed
    /// it) or is not one meshd wrote, and `StorageError` when etcd cannot be reached.
    public static func loadOrCreate(
        client: EtcdClient, keyspace: EtcdKeyspace, kek: KeyEncryptionKey,
        make: () throws -> ClusterSecrets
    ) async throws -> (secrets: ClusterSecrets, created: Bool) {
        let key = keyspace.identity
        if let existing = try await read(client: client, key: key) {
            return (try open(existing, kek: kek, key: key), false)
        }
        let secrets = try make()
        let sealed = Data(try kek.seal(Array(try JSONEncoder().encode(secrets)), context: Array(key)))
        var request = Etcdserverpb_TxnRequest()
        var absent = EtcdClient.modRevision(key, is: 0)
        absent.target = .create
        absent.createRevision = 0
        request.compare = [absent]
        request.success = [EtcdClient.put(key, sealed)]
        request.failure = [EtcdClient.get(key)]
        let response = try await client.txn(request, what: "store the cluster identity")
        if response.succeeded { return (secrets, true) }
        // Another replica got there first: use its secrets.
        guard let winner = response.responses.first?.responseRange.kvs.first?.value else {
            throw Refusal(description: "the cluster identity at \(String(decoding: key, as: UTF8.self)) vanished while being created; start again")
        }
        return (try open(winner, kek: kek, key: key), false)
    }

    private static func read(client: EtcdClient, key: Data) async throws(StorageError) -> Data? {
        var request = Etcdserverpb_RangeRequest()
        request.key = key
        return try await client.range(request, what: "read the cluster identity").kvs.first?.value
    }

    private static func open(_ sealed: Data, kek: KeyEncryptionKey, key: Data) throws(Refusal) -> ClusterSecrets {
        let name = String(decoding: key, as: UTF8.self)
        let plaintext: [UInt8]
        do {
            plaintext = try kek.open(Array(sealed), context: Array(key))
        } catch {
            throw Refusal(
                description:
                    "the --kek-file does not open the cluster identity stored in etcd at \(name): every replica must be started with the key-encryption key the first replica used"
            )
        }
        do {
            return try JSONDecoder().decode(ClusterSecrets.self, from: Data(plaintext))
        } catch {
            throw Refusal(description: "the cluster identity stored in etcd at \(name) opens but is not one meshd wrote")
        }
    }
}

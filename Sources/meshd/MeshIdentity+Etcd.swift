import CertificateAuthority
import Crypto
import EtcdStore
import Foundation
import Logging

extension MeshIdentity {
    /// The identity every replica on one etcd shares: the self-signed root, the token-signing key
    /// and the admin token, sealed with `kek` in etcd and created there by whichever replica
    /// starts first (`shared` assembles them).
    static func loadShared(
        client: EtcdClient, keyspace: EtcdKeyspace, kek: KeyEncryptionKey, dataDirectory: URL,
        caDirectory: URL?, trustDomain: String, metrics: CAMetrics, logger: Logger
    ) async throws -> MeshIdentity {
        let (secrets, created) = try await SealedIdentity.loadOrCreate(client: client, keyspace: keyspace, kek: kek) {
            try newClusterSecrets(trustDomain: trustDomain)
        }
        logger.info(
            created ? "cluster identity created and sealed in etcd" : "cluster identity loaded from etcd",
            metadata: ["key": "\(keyspace.prefix)identity"])
        return try shared(
            secrets, location: "etcd \(keyspace.prefix)identity", dataDirectory: dataDirectory, caDirectory: caDirectory,
            trustDomain: trustDomain, metrics: metrics, logger: logger)
    }

    /// A fresh identity for a cluster of replicas: a self-signed root, a token-signing key and an
    /// admin token, stored by whichever replica starts first.
    static func newClusterSecrets(trustDomain: String) throws -> ClusterSecrets {
        let (ca, rootKeyPEM) = try LocalCertificateAuthority.createSelfSigned(trustDomain: trustDomain)
        return ClusterSecrets(
            rootCertificatePEM: ca.rootCertificatePEM, rootKeyPEM: rootKeyPEM,
            tokenSigningKeyPEM: P256.Signing.PrivateKey().pemRepresentation + "\n",
            adminToken: AdminToken.generate())
    }

    /// The identity around secrets every replica shares (read from `location`). A plugged-in
    /// `--ca-dir` still overrides the stored root. The admin token is written to this replica's
    /// data directory, so meshctl on its machine works unchanged.
    static func shared(
        _ secrets: ClusterSecrets, location: String, dataDirectory: URL, caDirectory: URL?, trustDomain: String, metrics: CAMetrics,
        logger: Logger
    ) throws -> MeshIdentity {
        let ca =
            try pluggedCA(caDirectory, trustDomain: trustDomain, logger: logger)
            ?? LocalCertificateAuthority.load(
                rootCertificatePEM: secrets.rootCertificatePEM, rootKeyPEM: secrets.rootKeyPEM,
                trustDomain: trustDomain, certificateSource: "\(location) root certificate",
                keySource: "\(location) root key")
        let tokens: TokenAuthority
        do {
            tokens = TokenAuthority(privateKey: try P256.Signing.PrivateKey(pemRepresentation: secrets.tokenSigningKeyPEM))
        } catch {
            throw CAError(code: .internalError, message: "\(location): the token-signing key is not a PEM P-256 key", cause: error)
        }
        try AdminToken.write(secrets.adminToken, directory: dataDirectory)
        return assemble(ca: ca, tokens: tokens, adminToken: secrets.adminToken, metrics: metrics, logger: logger)
    }
}

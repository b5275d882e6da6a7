import CertificateAuthority
import EtcdStore
import Foundation
import Kubernetes
import KubernetesStore
import Logging

extension MeshIdentity {
    /// The Secret's keys: the names istiod's `cacerts` uses for the root, then meshd's own.
    private static let secretKeys = ["ca-cert.pem", "ca-key.pem", "token-key.pem", "admin-token"]

    /// The identity every replica on one Kubernetes cluster shares: the self-signed root, the
    /// token-signing key and the admin token in the Secret `namespace/meshd-ca`, created by
    /// whichever replica starts first (as istiod keeps its root in `istio-ca-secret`). Kubernetes
    /// Secrets are where a cluster keeps keys (encrypted at rest when the cluster is set up so);
    /// RBAC lets only meshd's service account read this one.
    static func loadShared(
        api: KubeAPIClient, namespace: String, dataDirectory: URL, caDirectory: URL?, trustDomain: String, metrics: CAMetrics,
        logger: Logger
    ) async throws -> MeshIdentity {
        let name = "meshd-ca"
        let (data, created) = try await SharedSecret.loadOrCreate(api: api, namespace: namespace, name: name, keys: secretKeys) {
            let secrets = try newClusterSecrets(trustDomain: trustDomain)
            return [
                "ca-cert.pem": secrets.rootCertificatePEM, "ca-key.pem": secrets.rootKeyPEM,
                "token-key.pem": secrets.tokenSigningKeyPEM, "admin-token": secrets.adminToken,
            ]
        }
        logger.info(
            created ? "cluster identity created in a Kubernetes Secret" : "cluster identity loaded from a Kubernetes Secret",
            metadata: ["secret": "\(namespace)/\(name)"])
        let secrets = ClusterSecrets(
            rootCertificatePEM: data["ca-cert.pem"] ?? "", rootKeyPEM: data["ca-key.pem"] ?? "",
            tokenSigningKeyPEM: data["token-key.pem"] ?? "", adminToken: data["admin-token"] ?? "")
        return try shared(
            secrets, location: "Secret \(namespace)/\(name)", dataDirectory: dataDirectory, caDirectory: caDirectory,
            trustDomain: trustDomain, metrics: metrics, logger: logger)
    }
}

import MeshModel

/// Where the key material of gateway TLS credentials is kept: apart from config, named by
/// digest. A `Secret` resource in the config store holds only the public half and the digest,
/// so nothing that shows, diffs or records config (history, dry runs, `get`, `/debug`, the
/// dashboard) can show a key; the push loop reads the material by digest when it builds.
///
/// The embedded store keeps it in its 0600 SQLite file (secure_delete on, so removed keys are
/// overwritten); etcd keeps it sealed with the key-encryption key.
///
/// Writing a credential is: store the material, then write its `Secret` resource (one config
/// revision, which pushes), then prune the name's other material. A crash between the steps
/// leaves unreferenced material, pruned by the next write of that name, never a resource whose
/// material is missing.
public protocol CredentialVault: Sendable {
    /// Stores `material` for the credential `namespace/name`; storing the same digest again
    /// changes nothing.
    func storeMaterial(_ material: CredentialMaterial, namespace: String, name: String) async throws(StorageError)
    /// The material `digest` of the credential `namespace/name`, or nil.
    func material(namespace: String, name: String, digest: String) async throws(StorageError) -> CredentialMaterial?
    /// Removes the material of `namespace/name`, except `keeping` (nil: all of it).
    func pruneMaterial(namespace: String, name: String, keeping digest: String?) async throws(StorageError)
}

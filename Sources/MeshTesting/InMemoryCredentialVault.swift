import MeshModel
import Storage
import Synchronization

/// A `CredentialVault` in memory, for tests of everything above the store.
public final class InMemoryCredentialVault: CredentialVault {
    private struct Entry {
        var namespace: String
        var name: String
        var material: CredentialMaterial
    }

    private let entries = Mutex<[Entry]>([])

    /// An empty vault.
    public init() {}

    public func storeMaterial(_ material: CredentialMaterial, namespace: String, name: String) async throws(StorageError) {
        entries.withLock { entries in
            guard !entries.contains(where: { $0.namespace == namespace && $0.name == name && $0.material.digest == material.digest }) else { return }
            entries.append(Entry(namespace: namespace, name: name, material: material))
        }
    }

    public func material(namespace: String, name: String, digest: String) async throws(StorageError) -> CredentialMaterial? {
        entries.withLock { $0.first { $0.namespace == namespace && $0.name == name && $0.material.digest == digest }?.material }
    }

    public func pruneMaterial(namespace: String, name: String, keeping digest: String?) async throws(StorageError) {
        entries.withLock { $0.removeAll { $0.namespace == namespace && $0.name == name && $0.material.digest != digest } }
    }

    /// How many pieces of material the vault holds (tests of pruning).
    public var count: Int { entries.withLock { $0.count } }
}

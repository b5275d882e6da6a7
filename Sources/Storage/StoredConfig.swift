import MeshModel

/// One config resource as the store holds it, with the revisions that changed it.
public struct StoredConfig: Sendable, Hashable {
    /// The resource as last applied.
    public var resource: ConfigResource
    /// The store revision of its last change (Kubernetes' `resourceVersion`).
    public var revision: Int64
    /// The store revision that first created it; orders conflicting resources oldest-first, as Istio does.
    public var createdRevision: Int64

    /// Creates a stored record.
    public init(resource: ConfigResource, revision: Int64, createdRevision: Int64) {
        self.resource = resource
        self.revision = revision
        self.createdRevision = createdRevision
    }

    /// The key of the resource.
    public var key: ConfigKey { resource.key }
}

/// Every config resource at one store revision: the input a PushContext is built from.
public struct ConfigSnapshot: Sendable, Hashable {
    /// The revision this snapshot reflects.
    public var revision: Int64
    /// All resources, sorted by key.
    public var configs: [StoredConfig]

    /// Creates a snapshot.
    public init(revision: Int64, configs: [StoredConfig]) {
        self.revision = revision
        self.configs = configs
    }
}

extension Collection where Element == StoredConfig {
    /// The records of `kind` (all kinds when nil) in `namespace` (all when nil), sorted by key:
    /// what `ConfigStore.list` answers from an in-memory set of records.
    public func matching(kind: ConfigKind?, namespace: String?) -> [StoredConfig] {
        filter { (kind == nil || $0.key.kind == kind) && (namespace == nil || $0.key.namespace == namespace) }
            .sorted { $0.key < $1.key }
    }
}

import MeshModel

/// What an apply or delete did to one resource.
public enum ConfigAction: String, Sendable, Codable {
    case created, configured, unchanged, deleted, notFound
}

/// The result of one apply or delete: the revision after it and what happened to each resource.
public struct ChangeOutcome: Sendable, Hashable {
    /// One resource's result, in request order.
    public struct Result: Sendable, Hashable {
        public var key: ConfigKey
        public var action: ConfigAction
        public init(key: ConfigKey, action: ConfigAction) {
            self.key = key
            self.action = action
        }
    }

    /// The store revision after the change (unchanged when nothing changed).
    public var revision: Int64
    /// Per-resource results, in request order.
    public var results: [Result]

    /// Whether anything was written.
    public var changedAnything: Bool {
        results.contains { $0.action == .created || $0.action == .configured || $0.action == .deleted }
    }

    public init(revision: Int64, results: [Result]) {
        self.revision = revision
        self.results = results
    }
}

/// Decides, without I/O, what an apply does given the current records, so that every
/// `ConfigStore` implementation agrees on create / configure / unchanged and on revisions.
public enum ApplyPlan {
    /// One write the store must perform.
    public struct Write: Sendable, Hashable {
        public var record: StoredConfig
        public var action: ConfigAction
    }

    /// Plans an apply of `resources` (later duplicates of a key win, as with `kubectl apply` of a
    /// file that repeats a resource) on top of `existing`. All writes share `nextRevision`.
    public static func apply(
        _ resources: [ConfigResource],
        existing: [ConfigKey: StoredConfig],
        nextRevision: Int64
    ) -> (writes: [Write], results: [ChangeOutcome.Result]) {
        var current = existing
        var writes: [ConfigKey: Write] = [:]
        var order: [ConfigKey] = []
        var results: [ChangeOutcome.Result] = []
        for resource in resources {
            let key = resource.key
            if let old = current[key] {
                if old.resource == resource {
                    results.append(.init(key: key, action: .unchanged))
                    continue
                }
                let wasCreatedNow = writes[key]?.action == .created
                let record = StoredConfig(resource: resource, revision: nextRevision, createdRevision: old.createdRevision)
                let action: ConfigAction = wasCreatedNow ? .created : .configured
                if writes[key] == nil { order.append(key) }
                writes[key] = Write(record: record, action: action)
                current[key] = record
                results.append(.init(key: key, action: .configured))
            } else {
                let record = StoredConfig(resource: resource, revision: nextRevision, createdRevision: nextRevision)
                if writes[key] == nil { order.append(key) }
                writes[key] = Write(record: record, action: .created)
                current[key] = record
                results.append(.init(key: key, action: .created))
            }
        }
        return (order.compactMap { writes[$0] }, results)
    }
}

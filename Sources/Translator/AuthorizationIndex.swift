import MeshModel

/// The AuthorizationPolicies of one PushContext, indexed by scope (Istio's
/// `AuthorizationPolicies.ListAuthorizationPolicies`): the policies of a workload in namespace N
/// with labels L are those of the root namespace and those of N, each without a selector or
/// with a selector that L carries (a root-namespace policy's selector matches workloads of
/// every namespace).
public struct AuthorizationIndex: Sendable {
    /// A policy with what orders it among others.
    public struct Entry: Sendable, Hashable {
        public var key: ConfigKey
        public var createdRevision: Int64
        public var spec: AuthorizationPolicy

        public init(key: ConfigKey, createdRevision: Int64, spec: AuthorizationPolicy) {
            self.key = key
            self.createdRevision = createdRevision
            self.spec = spec
        }
    }

    /// Policies by namespace, oldest first.
    private var byNamespace: [String: [Entry]] = [:]
    /// The label keys any policy's selector names: the part of a server's labels its inbound
    /// listeners can depend on.
    public private(set) var selectorLabelKeys: Set<String> = []

    /// An empty index.
    public init() {}

    /// Whether no policy is indexed.
    public var isEmpty: Bool { byNamespace.isEmpty }

    /// Adds `entry`; entries must come oldest first.
    public mutating func add(_ entry: Entry) {
        selectorLabelKeys.formUnion((entry.spec.selector ?? [:]).keys)
        byNamespace[entry.key.namespace, default: []].append(entry)
    }

    /// The policies that apply to a workload in `namespace` with `labels`: the root
    /// namespace's, then the namespace's, each oldest first.
    public func policies(namespace: String, labels: [String: String], rootNamespace: String) -> [Entry] {
        let scopes = namespace == rootNamespace ? [rootNamespace] : [rootNamespace, namespace]
        return scopes.flatMap { scope in
            (byNamespace[scope] ?? []).filter { entry in
                (entry.spec.selector ?? [:]).allSatisfy { labels[$0.key] == $0.value }
            }
        }
    }
}

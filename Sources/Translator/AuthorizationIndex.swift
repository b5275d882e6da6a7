import MeshModel

/// A security policy kind that applies by Istio's scope rules: in the mesh root namespace to every
/// workload, elsewhere to its namespace's, narrowed by an optional `selector.matchLabels`.
public protocol ScopedPolicy: Sendable, Hashable {
    /// `selector.matchLabels`; nil without a selector.
    var selector: [String: String]? { get }
}

extension AuthorizationPolicy: ScopedPolicy {}
extension RequestAuthentication: ScopedPolicy {}

/// Policies of one kind in one PushContext, indexed by scope (Istio's
/// `AuthorizationPolicies.ListAuthorizationPolicies`, and the same lookup for
/// RequestAuthentications): the policies of a workload in namespace N with labels L are those of
/// the root namespace and those of N, each without a selector or with a selector that L carries
/// (a root-namespace policy's selector matches workloads of every namespace).
public struct ScopedPolicyIndex<Spec: ScopedPolicy>: Sendable {
    /// A policy with what orders it among others.
    public struct Entry: Sendable, Hashable {
        public var key: ConfigKey
        public var createdRevision: Int64
        public var spec: Spec

        public init(key: ConfigKey, createdRevision: Int64, spec: Spec) {
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

    /// Every policy, by namespace then age.
    public var all: [Entry] { byNamespace.keys.sorted().flatMap { byNamespace[$0] ?? [] } }

    /// The policies of `namespace`, oldest first.
    public func entries(in namespace: String) -> [Entry] { byNamespace[namespace] ?? [] }

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

/// The AuthorizationPolicies of one PushContext.
public typealias AuthorizationIndex = ScopedPolicyIndex<AuthorizationPolicy>
/// The RequestAuthentications of one PushContext.
public typealias RequestAuthenticationIndex = ScopedPolicyIndex<RequestAuthentication>

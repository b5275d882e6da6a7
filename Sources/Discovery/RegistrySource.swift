import MeshModel

/// Where a service or an endpoint of the registry came from: a config resource (ServiceEntry,
/// WorkloadEntry) or a platform object (a Kubernetes Service or Pod). Names it in debug output
/// and the dashboard; its namespace is the workload's namespace in SPIFFE identities.
public struct RegistrySource: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The kinds of objects the registry is built from.
    public enum Kind: String, Sendable, Hashable, Comparable, CaseIterable {
        case serviceEntry = "ServiceEntry"
        case workloadEntry = "WorkloadEntry"
        /// A Kubernetes `Service`.
        case service = "Service"
        /// A Kubernetes `Pod`.
        case pod = "Pod"
        /// A Kubernetes EndpointSlice endpoint with no Pod behind it (hand-made slices, VMs).
        case endpointSlice = "EndpointSlice"

        public static func < (lhs: Kind, rhs: Kind) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public var kind: Kind
    public var namespace: String
    public var name: String

    public init(kind: Kind, namespace: String, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    /// The source for a config resource of a registry kind (ServiceEntry or WorkloadEntry; any
    /// other kind is named as a ServiceEntry, which only a caller's bug would pass).
    public init(_ key: ConfigKey) {
        self.init(kind: key.kind == .workloadEntry ? .workloadEntry : .serviceEntry, namespace: key.namespace, name: key.name)
    }

    /// The config resource this source is, when it is one.
    public var configKey: ConfigKey? {
        switch kind {
        case .serviceEntry: ConfigKey(kind: .serviceEntry, namespace: namespace, name: name)
        case .workloadEntry: ConfigKey(kind: .workloadEntry, namespace: namespace, name: name)
        case .service, .pod, .endpointSlice: nil
        }
    }

    /// Whether it is a platform (Kubernetes) object rather than a config resource.
    public var isPlatform: Bool { configKey == nil }

    /// `"Pod default/reviews-v1-abc"`.
    public var description: String { "\(kind.rawValue) \(namespace)/\(name)" }

    public static func < (lhs: RegistrySource, rhs: RegistrySource) -> Bool {
        (lhs.kind, lhs.namespace, lhs.name) < (rhs.kind, rhs.namespace, rhs.name)
    }
}

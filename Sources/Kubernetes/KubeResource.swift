/// The Kubernetes resources the registry reads, with where the API serves them.
public enum KubeResource: String, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
    case namespaces
    case nodes
    case pods
    case services
    case endpointslices

    /// The collection's path for every namespace: `/api/v1/pods`,
    /// `/apis/discovery.k8s.io/v1/endpointslices`.
    public var path: String {
        switch self {
        case .endpointslices: "/apis/discovery.k8s.io/v1/endpointslices"
        default: "/api/v1/\(rawValue)"
        }
    }

    /// Whether objects of the resource live in a namespace.
    public var isNamespaced: Bool { self != .namespaces && self != .nodes }

    public var description: String { rawValue }

    public static func < (lhs: KubeResource, rhs: KubeResource) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

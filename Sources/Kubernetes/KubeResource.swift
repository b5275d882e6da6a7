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

/// One collection a `KubeWatcher` lists and watches: a path (every namespace's objects of a
/// kind, or one namespace's) and an optional label selector.
public struct KubeCollection: Sendable, Hashable, CustomStringConvertible {
    /// `/apis/networking.istio.io/v1/virtualservices`, `/api/v1/namespaces/NS/configmaps`.
    public var path: String
    /// A label selector (`meshd.io/history=true`), nil for every object.
    public var labelSelector: String?
    /// A field selector (`type!=helm.sh/release.v1`), nil for every object.
    public var fieldSelector: String?
    /// The name logs and statuses use.
    public var name: String
    /// A collection at `path`.
    public init(path: String, labelSelector: String? = nil, fieldSelector: String? = nil, name: String) {
        self.path = path
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.name = name
    }
    /// The query parameters every list and watch of it carries.
    var query: [(String, String)] {
        (labelSelector.map { [("labelSelector", $0)] } ?? []) + (fieldSelector.map { [("fieldSelector", $0)] } ?? [])
    }
    public var description: String { name }
}

extension KubeResource {
    /// The registry's collection of this resource in every namespace.
    public var collection: KubeCollection { KubeCollection(path: path, name: rawValue) }
}

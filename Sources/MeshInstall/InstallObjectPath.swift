import MeshModel

/// Where an install's object lives in the Kubernetes REST API: the kinds an install generates,
/// with their plural and scope (the discovery facts `meshctl install` would otherwise ask for).
public struct InstallObjectPath: Sendable, Hashable, CustomStringConvertible {
    /// `/api/v1/namespaces/NS/services/NAME`, or the cluster-scoped form.
    public let item: String
    /// `KIND NAMESPACE/NAME` for messages.
    public let label: String

    static let kinds: [String: (prefix: String, plural: String, namespaced: Bool)] = [
        "Namespace": ("/api/v1", "namespaces", false),
        "ServiceAccount": ("/api/v1", "serviceaccounts", true),
        "ConfigMap": ("/api/v1", "configmaps", true),
        "Service": ("/api/v1", "services", true),
        "CustomResourceDefinition": ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", false),
        "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", false),
        "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", false),
        "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles", true),
        "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", true),
        "Deployment": ("/apis/apps/v1", "deployments", true),
        "PodDisruptionBudget": ("/apis/policy/v1", "poddisruptionbudgets", true),
        "ValidatingWebhookConfiguration": ("/apis/admissionregistration.k8s.io/v1", "validatingwebhookconfigurations", false),
        "MutatingWebhookConfiguration": ("/apis/admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations", false),
    ]

    /// The path of `object`.
    /// - Throws: `InstallError` for a kind an install does not generate or an object without a name.
    public init(_ object: JSONValue) throws(InstallError) {
        let kind = object["kind"]?.stringValue ?? ""
        guard let entry = Self.kinds[kind] else { throw InstallError("an install does not manage \(kind.isEmpty ? "objects without a kind" : kind)") }
        guard let name = object["metadata"]?["name"]?.stringValue, !name.isEmpty else { throw InstallError("a \(kind) without a name") }
        if entry.namespaced {
            let namespace = object["metadata"]?["namespace"]?.stringValue ?? "default"
            item = "\(entry.prefix)/namespaces/\(namespace)/\(entry.plural)/\(name)"
            label = "\(kind) \(namespace)/\(name)"
        } else {
            item = "\(entry.prefix)/\(entry.plural)/\(name)"
            label = "\(kind) \(name)"
        }
    }

    public var description: String { label }
}

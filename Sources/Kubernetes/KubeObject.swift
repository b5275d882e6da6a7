import MeshModel

/// A Kubernetes object's identity: namespace (empty for cluster-scoped kinds) and name.
public struct ObjectKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var namespace: String
    public var name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    public static func < (lhs: ObjectKey, rhs: ObjectKey) -> Bool {
        (lhs.namespace, lhs.name) < (rhs.namespace, rhs.name)
    }

    /// `NAMESPACE/NAME`, or `NAME` for a cluster-scoped object.
    public var description: String { namespace.isEmpty ? name : "\(namespace)/\(name)" }
}

/// One object as the API server sent it: its key, its `metadata.resourceVersion` (opaque: only
/// ever compared for equality, as Kubernetes' API conventions require) and the whole body.
public struct KubeObject: Sendable, Hashable {
    public var key: ObjectKey
    public var resourceVersion: String
    public var body: JSONValue

    public init(key: ObjectKey, resourceVersion: String, body: JSONValue = .object([:])) {
        self.key = key
        self.resourceVersion = resourceVersion
        self.body = body
    }

    /// Reads key and resourceVersion from `body`'s `metadata`; nil when the name or the
    /// resourceVersion is missing.
    public init?(body: JSONValue) {
        guard case .string(let name)? = body["metadata"]?["name"], !name.isEmpty,
            case .string(let version)? = body["metadata"]?["resourceVersion"], !version.isEmpty
        else { return nil }
        let namespace: String = if case .string(let ns)? = body["metadata"]?["namespace"] { ns } else { "" }
        self.init(key: ObjectKey(namespace: namespace, name: name), resourceVersion: version, body: body)
    }
}

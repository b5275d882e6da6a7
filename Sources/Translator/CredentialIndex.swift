import MeshModel

/// The gateway TLS credentials of a push, by namespace and name: each stored `Secret`'s public
/// half with its key material from the vault (nil when the vault did not have it, which the
/// builder reports).
public struct CredentialIndex: Sendable {
    /// One credential.
    public struct Entry: Sendable {
        /// Its resource.
        public var key: ConfigKey
        /// What may be shown of it.
        public var spec: TLSSecret
        /// Its key material; nil when missing from the vault.
        public var material: CredentialMaterial?
    }

    private var byNamespace: [String: [String: Entry]] = [:]

    /// The name of the stored `Secret` a `credentialName` names (`NAME` or `kubernetes://NAME`);
    /// nil for the schemes meshd's store does not serve (`kubernetes-gateway://`, `configmap://`).
    public static func storedName(_ credential: String) -> String? {
        if credential.hasPrefix("kubernetes://") { return String(credential.dropFirst("kubernetes://".count)) }
        return credential.contains("://") ? nil : credential
    }

    /// An empty index.
    public init() {}

    /// Adds (or replaces) the credential of `entry.key`.
    mutating func add(_ entry: Entry) {
        byNamespace[entry.key.namespace, default: [:]][entry.key.name] = entry
    }

    /// The credential `name` of `namespace`, or nil.
    public func entry(namespace: String, name: String) -> Entry? {
        byNamespace[namespace]?[name]
    }

    /// The credentials of `namespace`, sorted by name.
    public func entries(namespace: String) -> [Entry] {
        (byNamespace[namespace] ?? [:]).values.sorted { $0.key.name < $1.key.name }
    }
}

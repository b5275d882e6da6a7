/// The identity of a config resource: kind, namespace and name.
///
/// Ordered by kind, then namespace, then name, so listings and snapshots are deterministic.
public struct ConfigKey: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    /// The resource's kind.
    public var kind: ConfigKind
    /// The namespace; `"default"` when a document does not name one.
    public var namespace: String
    /// The resource's name (a DNS-1123 subdomain).
    public var name: String

    /// Creates a key.
    public init(kind: ConfigKind, namespace: String, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    /// `"VirtualService default/reviews"`: the form errors and logs use.
    public var description: String { "\(kind.rawValue) \(namespace)/\(name)" }

    /// Orders by kind, namespace, name.
    public static func < (lhs: ConfigKey, rhs: ConfigKey) -> Bool {
        (lhs.kind, lhs.namespace, lhs.name) < (rhs.kind, rhs.namespace, rhs.name)
    }
}

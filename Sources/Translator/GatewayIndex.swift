import MeshModel

/// The Gateways of one PushContext, oldest first (creation revision, then key): the order istiod
/// merges the Gateways that select one proxy in, so on a conflict the older server is kept.
public struct GatewayIndex: Sendable {
    /// A Gateway with what orders it among others.
    public struct Entry: Sendable, Hashable {
        public var key: ConfigKey
        public var createdRevision: Int64
        public var spec: Gateway

        public init(key: ConfigKey, createdRevision: Int64, spec: Gateway) {
            self.key = key
            self.createdRevision = createdRevision
            self.spec = spec
        }

        /// The name VirtualServices bind with: `namespace/name`.
        public var bindingName: String { "\(key.namespace)/\(key.name)" }
    }

    /// Every Gateway, oldest first.
    public private(set) var entries: [Entry] = []
    private var byBindingName: [String: Entry] = [:]

    /// An empty index.
    public init() {}

    /// Adds `entry`; entries must come oldest first.
    public mutating func add(_ entry: Entry) {
        entries.append(entry)
        byBindingName[entry.bindingName] = entry
    }

    /// The Gateway a VirtualService names as `namespace/name`, or nil.
    public func gateway(named bindingName: String) -> Entry? { byBindingName[bindingName] }

    /// The entries of `keys` that exist, in the order given.
    public func entries(_ keys: [ConfigKey]) -> [Entry] {
        keys.compactMap { byBindingName["\($0.namespace)/\($0.name)"] }
    }

    /// The keys of the Gateways that select a gateway proxy with `labels`, oldest first (Istio's
    /// default scope: from every namespace).
    public func selecting(_ labels: [String: String]) -> [ConfigKey] {
        entries.filter { $0.spec.selects(labels) }.map(\.key)
    }

    /// The label keys any Gateway's selector names: the part of a gateway proxy's labels its
    /// configuration depends on.
    public var selectorLabelKeys: Set<String> {
        Set(entries.flatMap(\.spec.selector.keys))
    }
}

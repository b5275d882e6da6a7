import MeshModel

/// The Sidecars of one PushContext, indexed for Istio's precedence: a Sidecar in the proxy's
/// namespace whose selector matches its labels, else that namespace's default (no selector),
/// else the root namespace's default, else none.
///
/// Several candidates at one level: the oldest (creation revision, then key) wins and the
/// others are warned about when added — for defaults always, for selectors when one selector
/// contains the other (then some workload is certainly selected by both).
public struct SidecarIndex: Sendable {
    /// A Sidecar with what orders it among others.
    public struct Entry: Sendable, Hashable {
        public var key: ConfigKey
        public var createdRevision: Int64
        public var spec: Sidecar

        public init(key: ConfigKey, createdRevision: Int64, spec: Sidecar) {
            self.key = key
            self.createdRevision = createdRevision
            self.spec = spec
        }
    }

    private var defaults: [String: Entry] = [:]
    /// Workload-selecting Sidecars by namespace, oldest first.
    private var selecting: [String: [Entry]] = [:]
    private var byKey: [ConfigKey: Entry] = [:]

    /// An empty index.
    public init() {}

    /// Whether no Sidecar is indexed.
    public var isEmpty: Bool { byKey.isEmpty }

    /// Adds `entry`; entries must come oldest first. Returns the warning when it loses to an
    /// older one.
    public mutating func add(_ entry: Entry) -> ConfigWarning? {
        let namespace = entry.key.namespace
        byKey[entry.key] = entry
        guard let selector = entry.spec.workloadSelector, entry.spec.selectsWorkloads else {
            if let winner = defaults[namespace] {
                return ConfigWarning(
                    key: entry.key, field: "spec.workloadSelector",
                    message:
                        "namespace \(namespace) already has a default Sidecar (no workloadSelector), \(winner.key), which is older and wins; this one is ignored"
                )
            }
            defaults[namespace] = entry
            return nil
        }
        let overlapping = selecting[namespace, default: []].first { older in
            let other = older.spec.workloadSelector ?? [:]
            return Self.contains(other, selector) || Self.contains(selector, other)
        }
        selecting[namespace, default: []].append(entry)
        guard let overlapping else { return nil }
        return ConfigWarning(
            key: entry.key, field: "spec.workloadSelector",
            message: "selects workloads that \(overlapping.key) also selects; the older one, \(overlapping.key), wins for them")
    }

    /// The Sidecar with `key`, if indexed.
    public func sidecar(_ key: ConfigKey) -> Entry? { byKey[key] }

    /// The Sidecar that applies to a proxy in `namespace` with `labels`, or nil.
    public func select(namespace: String, labels: [String: String], rootNamespace: String) -> Entry? {
        if let selected = selecting[namespace]?.first(where: { Self.contains(labels, $0.spec.workloadSelector ?? [:]) }) {
            return selected
        }
        return defaults[namespace] ?? defaults[rootNamespace]
    }

    /// Whether `labels` carry every label of `selector`.
    private static func contains(_ labels: [String: String], _ selector: [String: String]) -> Bool {
        selector.allSatisfy { labels[$0.key] == $0.value }
    }
}

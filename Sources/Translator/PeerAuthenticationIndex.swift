import MeshModel

/// The PeerAuthentications of one PushContext, indexed for Istio's precedence
/// (`pilot/pkg/model/authentication.go`): for a workload, the oldest policy of its namespace
/// whose selector its labels carry, then its namespace's policy without a selector, then the
/// mesh policy (the root namespace's without a selector). A mode of UNSET inherits from the
/// next level; at the top it is PERMISSIVE. A port-level mode (`portLevelMtls`, only on a
/// workload policy) overrides the workload's mode for that port; UNSET there inherits it.
///
/// Several policies without a selector in one namespace: the oldest (creation revision, then
/// key) wins and the others are warned about when added. Several workload policies select
/// one workload: the oldest wins, as in Istio.
public struct PeerAuthenticationIndex: Sendable {
    /// A policy with what orders it among others.
    public struct Entry: Sendable, Hashable {
        public var key: ConfigKey
        public var createdRevision: Int64
        public var spec: PeerAuthentication

        public init(key: ConfigKey, createdRevision: Int64, spec: PeerAuthentication) {
            self.key = key
            self.createdRevision = createdRevision
            self.spec = spec
        }
    }

    /// The mode a server port gets, and the policies that decided it (most specific first).
    public struct Decision: Sendable, Hashable {
        /// STRICT, PERMISSIVE or DISABLE (never UNSET).
        public var mode: PeerAuthentication.Mode
        /// The policies consulted, most specific first: workload, namespace, mesh.
        public var policies: [ConfigKey]
    }

    private var defaults: [String: Entry] = [:]
    /// Workload-selecting policies by namespace, oldest first.
    private var selecting: [String: [Entry]] = [:]
    /// The label keys any policy's selector names: the part of a server's labels its inbound
    /// listeners can depend on.
    public private(set) var selectorLabelKeys: Set<String> = []

    /// An empty index.
    public init() {}

    /// Whether no policy is indexed.
    public var isEmpty: Bool { defaults.isEmpty && selecting.isEmpty }

    /// Adds `entry`; entries must come oldest first. Returns the warning when it loses to an
    /// older namespace-wide policy.
    public mutating func add(_ entry: Entry) -> ConfigWarning? {
        let namespace = entry.key.namespace
        guard entry.spec.selectsWorkloads, let selector = entry.spec.selector else {
            if let winner = defaults[namespace] {
                return ConfigWarning(
                    key: entry.key, field: "spec.selector",
                    message:
                        "namespace \(namespace) already has a PeerAuthentication without a selector, \(winner.key), which is older and wins; this one is ignored"
                )
            }
            defaults[namespace] = entry
            return nil
        }
        selectorLabelKeys.formUnion(selector.keys)
        selecting[namespace, default: []].append(entry)
        return nil
    }

    /// The workload policy of a workload in `namespace` with `labels`: the oldest of its
    /// namespace whose selector its labels carry.
    private func workloadPolicy(namespace: String, labels: [String: String]) -> Entry? {
        selecting[namespace]?.first { entry in
            (entry.spec.selector ?? [:]).allSatisfy { labels[$0.key] == $0.value }
        }
    }

    /// The ports the workload policy of a workload in `namespace` with `labels` sets a mode
    /// for (`portLevelMtls`), sorted: an Envoy sidecar gives those it does not declare their
    /// own passthrough chains.
    public func portLevelPorts(namespace: String, labels: [String: String]) -> [UInt32] {
        workloadPolicy(namespace: namespace, labels: labels)?.spec.portLevelMtls.keys.sorted() ?? []
    }

    /// The mode of `namespace` as a whole (Istio's `GetNamespaceMutualTLSMode`, what a client's
    /// automatic mTLS reads for a service): the namespace policy's, else the mesh policy's, else
    /// nil when neither exists; UNSET inherits, at the top as PERMISSIVE.
    public func namespaceMode(_ namespace: String, rootNamespace: String) -> PeerAuthentication.Mode? {
        let local = defaults[namespace]
        let mesh = namespace == rootNamespace ? nil : defaults[rootNamespace]
        guard local != nil || mesh != nil else { return nil }
        return Self.resolved(nil, local, mesh, port: 0)
    }

    /// The mode for a server of a workload in `namespace` with `labels` listening on `port`:
    /// `decision(…).mode` without listing the policies (what generators ask, per port and per
    /// endpoint, on every push).
    public func mode(namespace: String, labels: [String: String], port: UInt32, rootNamespace: String) -> PeerAuthentication.Mode {
        guard !isEmpty else { return .permissive }
        return Self.resolved(
            workloadPolicy(namespace: namespace, labels: labels), defaults[namespace],
            namespace == rootNamespace ? nil : defaults[rootNamespace], port: port)
    }

    /// The mode for a server of a workload in `namespace` with `labels` listening on `port`, and
    /// the policies consulted.
    public func decision(namespace: String, labels: [String: String], port: UInt32, rootNamespace: String) -> Decision {
        let workload = workloadPolicy(namespace: namespace, labels: labels)
        let local = defaults[namespace]
        let mesh = namespace == rootNamespace ? nil : defaults[rootNamespace]
        return Decision(
            mode: Self.resolved(workload, local, mesh, port: port), policies: [workload, local, mesh].compactMap { $0?.key })
    }

    /// Istio's inheritance: the first level whose mode is set, most specific first, else
    /// PERMISSIVE; then the workload policy's mode for `port`, when set.
    private static func resolved(_ workload: Entry?, _ local: Entry?, _ mesh: Entry?, port: UInt32) -> PeerAuthentication.Mode {
        if let workload, let portMode = workload.spec.portLevelMtls[port], portMode != .unset { return portMode }
        if let mode = workload?.spec.mode, mode != .unset { return mode }
        if let mode = local?.spec.mode, mode != .unset { return mode }
        if let mode = mesh?.spec.mode, mode != .unset { return mode }
        return .permissive
    }
}

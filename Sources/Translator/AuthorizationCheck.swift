import Discovery
import MeshModel

/// What applies to one workload's servers, as `istioctl x authz check` shows it: the mutual TLS
/// mode per port with the PeerAuthentications that decided it, the AuthorizationPolicies that
/// select it, and the RBAC rules its inbound listeners carry (`RBACDescription` lines).
/// A pure function of the PushContext and the workload.
public struct AuthorizationCheck: Sendable {
    /// The mode of one port.
    public struct Port: Sendable, Hashable {
        public var port: UInt32
        public var mode: PeerAuthentication.Mode
        public var policies: [ConfigKey]
    }

    /// The workload's WorkloadEntry.
    public var workload: ConfigKey
    /// Its labels.
    public var labels: [String: String]
    /// Its ports (what its endpoints serve on), with their modes.
    public var ports: [Port]
    /// The AuthorizationPolicies that select it, with their actions, root namespace first.
    public var policies: [(key: ConfigKey, action: AuthorizationPolicy.Action)] {
        selected.map { ($0.key, $0.spec.action) }
    }
    /// The DENY filter's rules (nil: no DENY policy applies).
    public var deny: [String]?
    /// The ALLOW filter's rules (nil: no ALLOW policy applies, so everything not denied is allowed).
    public var allow: [String]?
    private var selected: [AuthorizationIndex.Entry]

    /// The check of WorkloadEntry `workload` at `push`; nil when no service selects or lists it
    /// (meshd knows a workload's labels and ports from the registry).
    public init?(workload: ConfigKey, push: PushContext) {
        let endpoints = push.registry.endpoints.values.flatMap { $0.values.flatMap { $0 } }.filter { $0.source == workload }
        guard let first = endpoints.first else { return nil }
        self.workload = workload
        labels = first.labels
        let root = push.settings.rootNamespace
        ports = Set(endpoints.map(\.port)).sorted().map { port in
            let decision = push.peerAuthentications.decision(namespace: workload.namespace, labels: first.labels, port: port, rootNamespace: root)
            return Port(port: port, mode: decision.mode, policies: decision.policies)
        }
        selected = push.authorizationPolicies.policies(namespace: workload.namespace, labels: first.labels, rootNamespace: root)
        let denying = selected.filter { $0.spec.action == .deny }
        let allowing = selected.filter { $0.spec.action == .allow }
        deny = denying.isEmpty ? nil : RBACDescription.lines(AuthorizationFilters.rules(denying, action: .deny))
        allow = allowing.isEmpty ? nil : RBACDescription.lines(AuthorizationFilters.rules(allowing, action: .allow))
    }
}

import Discovery
import MeshModel

/// What applies to one workload's servers, as `istioctl x authz check` shows it: the mutual TLS
/// mode per port with the PeerAuthentications that decided it, the AuthorizationPolicies that
/// select it, and the RBAC rules its inbound listeners carry (`RBACDescription` lines) — as a
/// proxyless gRPC server gets them, and as an Envoy sidecar's HTTP and TCP chains get them
/// (what each cannot check falls away differently). A pure function of the PushContext and
/// the workload.
public struct AuthorizationCheck: Sendable {
    /// The mode of one port.
    public struct Port: Sendable, Hashable {
        public var port: UInt32
        public var mode: PeerAuthentication.Mode
        public var policies: [ConfigKey]
        /// How an Envoy sidecar carries it: `HTTP`, `TCP`, or `AUTO` (sniffed).
        public var carriage: String
        /// Whether a service declares it (else only `portLevelMtls` names it: an Envoy sidecar
        /// gives it passthrough chains under its mode).
        public var declared: Bool
    }

    /// The rules of each action that has policies, in evaluation order.
    public typealias Rules = [(action: AuthorizationPolicy.Action, lines: [String])]

    /// The workload's WorkloadEntry (nil when checked for a connected sidecar whose workload
    /// the registry does not know).
    public var workload: ConfigKey?
    /// The connected proxy checked, when checked by proxy.
    public var proxyID: String?
    /// Its labels (the WorkloadEntry's, or the proxy's own).
    public var labels: [String: String]
    /// Its ports (what its endpoints serve on, then undeclared `portLevelMtls` ports), with
    /// their modes.
    public var ports: [Port]
    /// The mode of every other port (an Envoy sidecar's passthrough chains).
    public var workloadMode: PeerAuthentication.Mode
    /// The policies that decided it, most specific first.
    public var workloadPolicies: [ConfigKey]
    /// The AuthorizationPolicies that select it, with their actions, root namespace first.
    public var policies: [(key: ConfigKey, action: AuthorizationPolicy.Action)] {
        selected.map { ($0.key, $0.spec.action) }
    }
    /// The DENY filter's rules for gRPC servers (nil: no DENY policy applies).
    public var deny: [String]? { rules(.grpc).first { $0.action == .deny }?.lines }
    /// The ALLOW filter's rules for gRPC servers (nil: no ALLOW policy applies, so everything
    /// not denied is allowed).
    public var allow: [String]? { rules(.grpc).first { $0.action == .allow }?.lines }
    private var selected: [AuthorizationIndex.Entry]

    /// The check of WorkloadEntry `workload` at `push`; nil when no service selects or lists it
    /// (meshd knows a workload's labels and ports from the registry).
    public init?(workload: ConfigKey, push: PushContext) {
        let source = RegistrySource(workload)
        let endpoints = push.registry.endpoints.values.flatMap { $0.values.flatMap { $0 } }.filter { $0.source == source }
        guard let first = endpoints.first else { return nil }
        var carriages: [UInt32: String] = [:]
        for found in push.registry.endpoints(namespace: workload.namespace, addresses: Set(endpoints.map(\.address)))
        where found.endpoint.source == source && carriages[found.endpoint.port] == nil {
            carriages[found.endpoint.port] = Self.carriage(PortProtocol.declared(protocol: found.port.protocolName, name: found.port.name))
        }
        for port in endpoints.map(\.port) where carriages[port] == nil { carriages[port] = "AUTO" }
        self.init(namespace: workload.namespace, labels: first.labels, carriages: carriages, push: push)
        self.workload = workload
    }

    /// The check of the connected Envoy sidecar `proxy` at `push`, as its `virtualInbound` is
    /// built: its own labels, its view's workload ports (a Sidecar's `ingress` included).
    public init(proxy: Proxy, push: PushContext) {
        let view = ProxyView(key: push.viewKey(for: proxy), push: push)
        var carriages: [UInt32: String] = [:]
        for port in view.workloadPorts where carriages[port.number] == nil {
            carriages[port.number] = Self.carriage(port.protocolName)
        }
        self.init(namespace: proxy.namespace, labels: proxy.labels, carriages: carriages, push: push)
        proxyID = proxy.id
    }

    private init(namespace: String, labels: [String: String], carriages: [UInt32: String], push: PushContext) {
        self.labels = labels
        let root = push.settings.rootNamespace
        let authentications = push.peerAuthentications
        func port(_ number: UInt32, carriage: String, declared: Bool) -> Port {
            let decision = authentications.decision(namespace: namespace, labels: labels, port: number, rootNamespace: root)
            return Port(port: number, mode: decision.mode, policies: decision.policies, carriage: carriage, declared: declared)
        }
        ports =
            carriages.keys.sorted().map { port($0, carriage: carriages[$0] ?? "AUTO", declared: true) }
            + authentications.portLevelPorts(namespace: namespace, labels: labels)
            .filter { carriages[$0] == nil }.map { port($0, carriage: "AUTO", declared: false) }
        let workloadDecision = authentications.decision(namespace: namespace, labels: labels, port: 0, rootNamespace: root)
        workloadMode = workloadDecision.mode
        workloadPolicies = workloadDecision.policies
        selected = push.authorizationPolicies.policies(namespace: namespace, labels: labels, rootNamespace: root)
        requestAuthentications = push.requestAuthentications.policies(namespace: namespace, labels: labels, rootNamespace: root).map {
            (key: $0.key, issuers: $0.spec.jwtRules.map { $0.issuer.isEmpty ? "(any issuer: \($0.jwksUri ?? ""))" : $0.issuer })
        }
        settings = push.settings
        registry = push.registry
    }

    /// The RequestAuthentications that select the workload, each with its rules' issuers.
    public var requestAuthentications: [(key: ConfigKey, issuers: [String])]
    private var settings: MeshSettings
    private var registry: RegistrySnapshot

    /// The CUSTOM rules of an Envoy proxy's HTTP (`http`) or TCP chains: `PROVIDER -> CLUSTER:
    /// RULE` for what is sent to the external authorizer, `PROVIDER (denied): RULE` for what is
    /// denied because it cannot be (unknown provider, several providers, HTTP provider on TCP).
    public func customRules(http: Bool) -> [String] {
        ExtAuthzFilters.plan(selected, settings: settings, registry: registry, http: http).flatMap { step in
            switch step {
            case .delegate(let provider, _, let cluster, _, let rules):
                RBACDescription.lines(rules).map { "\(provider) -> \(cluster): \($0)" }
            case .deny(let provider, let rules):
                RBACDescription.lines(rules).map { "\(provider) (denied): \($0)" }
            }
        }
    }

    /// `HTTP`, `TCP` or `AUTO`: how an Envoy sidecar carries a port of protocol `name`.
    private static func carriage(_ name: String) -> String {
        switch InboundChains.Carriage(protocolName: name) {
        case .http: "HTTP"
        case .tcp: "TCP"
        case .auto: "AUTO"
        }
    }

    /// The rules the workload's servers get on `target`, by action in evaluation order.
    public func rules(_ target: RBACTarget) -> Rules {
        AuthorizationFilters.byAction(selected, target: target).map { action, rbac in (action, RBACDescription.lines(rbac)) }
    }
}

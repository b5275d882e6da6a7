import MeshModel

/// Everything a proxy's generated configuration depends on besides the PushContext: two
/// proxies with equal keys get byte-identical snapshots at one revision, so the push server
/// generates and encodes once per key. Computed per push by `PushContext.viewKey(for:)`,
/// because which Sidecar applies depends on the config as much as on the proxy.
///
/// - `kind`: which shapes of resources the proxy takes;
/// - `namespace`: decides exportTo visibility, what `.` means in a Sidecar, and the
///   namespace-aware choice of VirtualService and DestinationRule;
/// - `sidecar`: the Sidecar that applies (nil: none, everything visible). Labels matter through
///   Sidecar selection, which this key captures, and through VirtualService `sourceLabels`:
/// - `sourceLabels`: the proxy's labels whose keys some `sourceLabels` names, and no others, so
///   proxies of one namespace that differ only in labels no route looks at share a snapshot.
///
/// - `locality`: the proxy's locality, only while some DestinationRule makes endpoint
///   priorities or weights depend on it (`PushContext.isLocalityAware`); nil otherwise, so
///   proxies in different zones still share a snapshot in a mesh that does not care;
/// - `priorityLabels`: the proxy's labels (topology labels from its locality included) whose
///   keys some `failoverPriority` names, and no others.
/// - `inbound`: the addresses the proxy serves on as a gRPC server (the inbound listener names
///   it asked for), sorted; empty for a client. Names are unbounded (the address comes from the
///   name), so they cannot all be generated ahead: asking for one changes the proxy's key.
/// - `policyLabels`: for a server (non-empty `inbound`, or an Envoy sidecar), its labels whose keys some security
///   policy's selector names, and no others: two servers on the same address with the same
///   policy-relevant labels share a snapshot.
/// - `gateways`: for a gateway proxy, the Gateways that select it, oldest first; empty for
///   every other kind.
/// - `readsCredentials`: a gateway proxy authenticated by its mesh certificate (ADS on the mTLS
///   port): only such a proxy is served its namespace's TLS credentials over SDS.
/// - `workloadPorts`: for an Envoy sidecar, the ports of the workload beside it (its inbound
///   listener and clusters); empty for every other kind, so replicas of one workload share.
public struct ViewKey: Sendable, Hashable, CustomStringConvertible {
    /// The proxy's kind.
    public var kind: ProxyKind
    /// The proxy's namespace.
    public var namespace: String
    /// The key of the Sidecar that applies to the proxy, nil when none does.
    public var sidecar: ConfigKey?
    /// The proxy's labels that some VirtualService's `sourceLabels` names (only those: proxies
    /// differing in other labels still share a view).
    public var sourceLabels: [String: String]

    /// The proxy's locality when endpoints depend on it, else nil.
    public var locality: Locality?
    /// The proxy's labels that some `failoverPriority` names.
    public var priorityLabels: [String: String]
    /// The addresses the proxy serves on (its inbound listener names), sorted.
    public var inbound: [InboundAddress]
    /// A server's labels that some security policy's selector names.
    public var policyLabels: [String: String]
    /// An Envoy sidecar's own workload ports, sorted (see `InboundPort.ports(of:in:)`).
    public var workloadPorts: [InboundPort]
    /// A gateway proxy's Gateways, oldest first.
    public var gateways: [ConfigKey]
    /// Whether the proxy may be served its namespace's TLS credentials.
    public var readsCredentials: Bool

    /// Creates a key.
    public init(
        kind: ProxyKind, namespace: String = "default", sidecar: ConfigKey? = nil, sourceLabels: [String: String] = [:],
        locality: Locality? = nil, priorityLabels: [String: String] = [:],
        inbound: [InboundAddress] = [], policyLabels: [String: String] = [:], workloadPorts: [InboundPort] = [],
        gateways: [ConfigKey] = [], readsCredentials: Bool = false
    ) {
        self.gateways = gateways
        self.readsCredentials = readsCredentials
        self.inbound = inbound
        self.policyLabels = policyLabels
        self.workloadPorts = workloadPorts
        self.kind = kind
        self.namespace = namespace
        self.sidecar = sidecar
        self.sourceLabels = sourceLabels
        self.locality = locality
        self.priorityLabels = priorityLabels
    }

    /// `proxyless-grpc/default sidecar=default/restricted` (`sidecar=none` without one).
    public var description: String {
        "\(kind.rawValue)/\(namespace) sidecar=\(sidecar.map { "\($0.namespace)/\($0.name)" } ?? "none")"
            + (sourceLabels.isEmpty ? "" : " labels=" + Self.listed(sourceLabels))
            + (locality.map { " locality=\($0.description.isEmpty ? "unknown" : $0.description)" } ?? "")
            + (priorityLabels.isEmpty ? "" : " priority-labels=" + Self.listed(priorityLabels))
            + (inbound.isEmpty ? "" : " inbound=" + inbound.map(\.description).joined(separator: ","))
            + (policyLabels.isEmpty ? "" : " policy-labels=" + Self.listed(policyLabels))
            + (workloadPorts.isEmpty ? "" : " workload-ports=" + workloadPorts.map(\.description).joined(separator: ","))
            + (gateways.isEmpty ? "" : " gateways=" + gateways.map { "\($0.namespace)/\($0.name)" }.joined(separator: ","))
            + (readsCredentials ? " credentials" : "")
    }

    private static func listed(_ labels: [String: String]) -> String {
        labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}

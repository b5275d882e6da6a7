/// Istio `Sidecar` (the subset meshd implements): which services the proxies of a namespace, or
/// of the workloads it selects, can reach.
///
/// A Sidecar without a selector is its namespace's default; one in the mesh root namespace
/// without a selector is the mesh default. `captureMode` and the other fields meshd does not
/// apply yet are accepted and stored; the write path warns about them (`IstioSchema`).
public struct Sidecar: Sendable, Hashable {
    /// The outbound traffic policy modes Istio defines for a Sidecar.
    public enum OutboundTrafficMode: String, Sendable, Hashable, CaseIterable {
        /// Only services in the registry are reachable.
        case registryOnly = "REGISTRY_ONLY"
        /// Unknown destinations pass through.
        case allowAny = "ALLOW_ANY"
    }

    /// `workloadSelector.labels`; nil (or empty, which selects every workload) makes the
    /// Sidecar its namespace's default.
    public var workloadSelector: [String: String]?
    /// Egress listeners; empty imports every service visible to the namespace (Istio's `*/*`).
    public var egress: [SidecarEgress]
    /// `outboundTrafficPolicy.mode`, nil when not set.
    public var outboundTrafficPolicy: OutboundTrafficMode?
    /// Ingress listeners (Envoy sidecars' inbound ports); empty: the workload's services decide.
    public var ingress: [SidecarIngress]

    /// Creates a Sidecar.
    public init(
        workloadSelector: [String: String]? = nil, egress: [SidecarEgress] = [],
        outboundTrafficPolicy: OutboundTrafficMode? = nil, ingress: [SidecarIngress] = []
    ) {
        self.workloadSelector = workloadSelector
        self.egress = egress
        self.outboundTrafficPolicy = outboundTrafficPolicy
        self.ingress = ingress
    }

    /// Whether this Sidecar selects particular workloads rather than being a namespace default.
    public var selectsWorkloads: Bool { !(workloadSelector ?? [:]).isEmpty }
}

extension Sidecar {
    init(reading spec: FieldReader) throws(MeshModelError) {
        let selector = spec["workloadSelector"]
        if try selector.object() != nil {
            let labels = try selector["labels"].stringMap()
            for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
                let field = selector["labels"][key]
                if key.isEmpty { throw field.error("a selector label key must not be empty") }
                if key.contains("*") || value.contains("*") { throw field.error("wildcards are not supported in a selector") }
            }
            workloadSelector = labels
        } else {
            workloadSelector = nil
        }
        var egress: [SidecarEgress] = []
        var ports: Set<UInt32> = []
        let listeners = try spec["egress"].list()
        for (index, reader) in listeners.enumerated() {
            let listener = try SidecarEgress(reading: reader)
            if let port = listener.port {
                guard ports.insert(port).inserted else { throw reader["port"]["number"].error("duplicate egress port \(port)") }
            } else if index != listeners.count - 1 {
                throw reader["port"].error("only the last egress listener may leave out the port (it catches every other port)")
            }
            egress.append(listener)
        }
        self.egress = egress
        let policy = spec["outboundTrafficPolicy"]
        if try policy.object() != nil {
            let modes = OutboundTrafficMode.allCases.map(\.rawValue)
            outboundTrafficPolicy =
                try policy["mode"].oneOf(modes, what: "mode").flatMap(OutboundTrafficMode.init(rawValue:))
                ?? .registryOnly  // the proto's zero value
        } else {
            outboundTrafficPolicy = nil
        }
        var ingress: [SidecarIngress] = []
        for reader in try spec["ingress"].list() {
            let listener = try SidecarIngress(reading: reader)
            // Istio: ports of listeners bound to one address must be unique.
            guard !ingress.contains(where: { $0.port == listener.port }) else {
                throw reader["port"]["number"].error("duplicate ingress port \(listener.port)")
            }
            ingress.append(listener)
        }
        self.ingress = ingress
        if egress.isEmpty, spec["ingress"].isAbsent, outboundTrafficPolicy == nil {
            throw spec.error("empty configuration: set egress, ingress or outboundTrafficPolicy")
        }
    }
}

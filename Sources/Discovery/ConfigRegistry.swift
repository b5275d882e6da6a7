import MeshModel

/// The embedded registry: services and endpoints derived from ServiceEntry and WorkloadEntry
/// resources (applied as YAML or registered through the REST API — both land in the config store).
///
/// Istio's rules: a ServiceEntry declares one service per host; its endpoints are its inline
/// `endpoints`, or else the WorkloadEntries in its namespace whose labels carry its
/// `workloadSelector`. A workload's port for a service port is `ports[portName]`, else the
/// service port's `targetPort`, else the service port's number.
public enum ConfigRegistry {
    /// A WorkloadEntry with what the store knows about its health.
    public struct Workload: Sendable, Hashable {
        public var key: ConfigKey
        public var spec: WorkloadEntry
        /// From the annotations (`ConfigRegistry.health(annotations:)`).
        public var health: HealthStatus

        public init(key: ConfigKey, spec: WorkloadEntry, health: HealthStatus) {
            self.key = key
            self.spec = spec
            self.health = health
        }

        /// A workload that is healthy or unhealthy.
        public init(key: ConfigKey, spec: WorkloadEntry, healthy: Bool) {
            self.init(key: key, spec: spec, health: healthy ? .healthy : .unhealthy)
        }
    }

    /// The annotation holding a registered workload's health (`HealthStatus.annotation`).
    public static let healthStatusAnnotation = HealthStatus.annotation
    /// The older boolean annotation: `"false"` marks a workload unhealthy.
    public static let healthAnnotation = "meshd.io/healthy"

    /// The health these annotations give (`meshd.io/health`, else `meshd.io/healthy: "false"`,
    /// else healthy); nil when `meshd.io/health` holds something else (the write path refuses it).
    public static func health(annotations: [String: String]) -> HealthStatus? {
        if let status = annotations[healthStatusAnnotation] { return HealthStatus(rawValue: status.uppercased()) }
        return annotations[healthAnnotation]?.lowercased() == "false" ? .unhealthy : .healthy
    }

    /// Whether `labels` carry every label of `selector` (an empty selector selects everything).
    static func labels(_ labels: [String: String], match selector: [String: String]) -> Bool {
        selector.allSatisfy { labels[$0.key] == $0.value }
    }

    /// Builds the registry. Input order does not matter; when two ServiceEntries declare one host,
    /// the one created first wins (`serviceEntries` must be sorted oldest-first).
    ///
    /// `platform`'s services (Kubernetes) come first, as in Istio: a ServiceEntry never takes a
    /// Kubernetes Service's host (Istio keeps one in another namespace beside it; meshd's registry
    /// holds one service per host, so the Kubernetes Service wins there too), and a platform
    /// service with a selector gets the WorkloadEntries of its namespace that carry it, after
    /// its own endpoints.
    public static func build(
        serviceEntries: [(key: ConfigKey, spec: ServiceEntry)], workloads: [Workload], platform: PlatformServices = .none
    ) -> RegistrySnapshot {
        var services = platform.services
        var endpoints = platform.endpoints
        var overflows: [String: WeightOverflow] = [:]
        let index = WorkloadIndex(workloads)
        for (host, selector) in platform.selectors {
            guard let service = services[host] else { continue }
            let members = index.select(namespace: service.namespace, selector: selector)
            guard !members.isEmpty else { continue }
            endpoints[host] = appending(endpointsByPort(members, ports: service.ports), to: endpoints[host] ?? [:])
        }
        for (key, entry) in serviceEntries {
            let ports = entry.ports.map {
                Service.Port(number: $0.number, name: $0.name, protocolName: ($0.protocol ?? "").uppercased(), targetPort: $0.targetPort)
            }
            let members: [Workload]
            if !entry.endpoints.isEmpty {
                members = entry.endpoints.enumerated().map { index, spec in
                    Workload(key: ConfigKey(kind: .serviceEntry, namespace: key.namespace, name: "\(key.name)#\(index)"), spec: spec, healthy: true)
                }
            } else if let selector = entry.workloadSelector {
                members = index.select(namespace: key.namespace, selector: selector)
            } else {
                members = []
            }
            let overflow = weightOverflow(service: key, members: members)
            for rawHost in entry.hosts {
                let host = HostName.resolve(rawHost, namespace: key.namespace)
                guard services[host] == nil else { continue }
                overflows[host] = overflow
                services[host] = Service(
                    host: host, namespace: key.namespace, ports: ports, source: RegistrySource(key), exportTo: entry.exportTo,
                    resolution: entry.resolution.flatMap(Service.Resolution.init(rawValue:)) ?? .none,
                    location: entry.location, addresses: entry.addresses, subjectAltNames: entry.subjectAltNames)
                endpoints[host] = endpointsByPort(members, ports: ports)
            }
        }
        return RegistrySnapshot(
            services: services, endpoints: endpoints, weightOverflows: overflows, aliases: resolveAliases(platform.aliases, services: services))
    }

    /// Each service's aliases: an ExternalName Service's host under the concrete service its
    /// chain of aliases ends at (A → B → concrete). As istiod does, a chain that loops, ends at
    /// no service, or starts at a host a service already has, is dropped; names are compared
    /// without case or a trailing dot.
    static func resolveAliases(_ aliases: [String: String], services: [String: Service]) -> [String: [String]] {
        func normal(_ host: String) -> String { (host.hasSuffix(".") ? String(host.dropLast()) : host).lowercased() }
        let targets = Dictionary(aliases.map { (normal($0.key), normal($0.value)) }, uniquingKeysWith: { first, _ in first })
        var byTarget: [String: [String]] = [:]
        for alias in targets.keys where services[alias] == nil {
            var seen: Set<String> = [alias]
            var current = targets[alias]
            while let next = current, services[next] == nil, seen.insert(next).inserted { current = targets[next] }
            guard let target = current, services[target] != nil else { continue }
            byTarget[target, default: []].append(alias)
        }
        return byTarget.mapValues { $0.sorted() }
    }

    /// `base` with `extra`'s endpoints after its own, port by port.
    static func appending(_ extra: [UInt32: [Endpoint]], to base: [UInt32: [Endpoint]]) -> [UInt32: [Endpoint]] {
        base.merging(extra) { $0 + $1 }
    }

    /// Each port's endpoints for `members`.
    static func endpointsByPort(_ members: [Workload], ports: [Service.Port]) -> [UInt32: [Endpoint]] {
        var byPort: [UInt32: [Endpoint]] = [:]
        for port in ports {
            byPort[port.number] = members.map { endpoint(for: $0, port: port) }
        }
        return byPort
    }

    /// The overflow record when `members`' weights add up past uint32, else nil.
    static func weightOverflow(service: ConfigKey, members: [Workload]) -> WeightOverflow? {
        guard WeightBudget.total(of: members.map(\.spec.weight)) == nil else { return nil }
        return WeightOverflow(service: service, workloads: members.map(\.key).filter { $0.kind == .workloadEntry })
    }

    private static func endpoint(for workload: Workload, port: Service.Port) -> Endpoint {
        let spec = workload.spec
        return Endpoint(
            address: spec.address,
            port: spec.ports[port.name] ?? port.targetPort ?? port.number,
            labels: spec.labels,
            locality: Locality(istio: spec.locality),
            weight: WeightBudget.effective(spec.weight),
            health: workload.health,
            serviceAccount: spec.serviceAccount,
            source: RegistrySource(workload.key),
            network: spec.network)
    }
}

/// Workloads by namespace and by each `key=value` label, so a selector looks at the workloads
/// carrying one of its labels instead of scanning the namespace (1,000 services x 4,000
/// workloads would otherwise cost millions of label comparisons per PushContext).
private struct WorkloadIndex {
    private var byNamespace: [String: [ConfigRegistry.Workload]] = [:]
    private var byLabel: [String: [String: [ConfigRegistry.Workload]]] = [:]

    init(_ workloads: [ConfigRegistry.Workload]) {
        for workload in workloads.sorted(by: { $0.key < $1.key }) {
            byNamespace[workload.key.namespace, default: []].append(workload)
            for (key, value) in workload.spec.labels {
                byLabel[workload.key.namespace, default: [:]]["\(key)=\(value)", default: []].append(workload)
            }
        }
    }

    /// The workloads in `namespace` whose labels carry all of `selector`, sorted by key.
    func select(namespace: String, selector: [String: String]) -> [ConfigRegistry.Workload] {
        guard let (key, value) = selector.min(by: { $0.key < $1.key }) else {
            return byNamespace[namespace] ?? []  // an empty selector selects every workload
        }
        let candidates = byLabel[namespace]?["\(key)=\(value)"] ?? []
        return candidates.filter { ConfigRegistry.labels($0.spec.labels, match: selector) }
    }
}

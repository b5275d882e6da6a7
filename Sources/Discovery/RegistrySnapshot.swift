import MeshModel

/// The registry at one moment: every service and, per service host, the endpoints of each port.
///
/// Immutable and `Sendable`; built by `ConfigRegistry`, read by the translator.
public struct RegistrySnapshot: Sendable, Hashable {
    /// Services by host.
    public let services: [String: Service]
    /// Endpoints by host, then by service port number.
    public let endpoints: [String: [UInt32: [Endpoint]]]
    /// Services sorted by host: a stable order for generated output, sorted once per snapshot
    /// because every generator walks it.
    public let sortedServices: [Service]

    /// Services whose endpoints' weights add up past uint32, by host (see `WeightOverflow`).
    public let weightOverflows: [String: WeightOverflow]
    /// Other names of a service, by its host: Kubernetes ExternalName Services pointing at it
    /// (through chains), which Istio matches wherever the target's routes are; sorted.
    public let aliases: [String: [String]]
    /// Every (service port, endpoint) pair by the endpoint's namespace and address, so finding
    /// a proxy's own workload is a lookup once per snapshot, not a scan per proxy per push.
    private let byAddress: [AddressKey: [AddressedEndpoint]]

    /// One service port reaching one endpoint, with its place in (host, port, endpoint) order.
    public struct AddressedEndpoint: Sendable, Hashable {
        public var port: Service.Port
        public var endpoint: Endpoint
        /// The service's host.
        public var host: String
        /// Position in the registry's stable order: the host's place among the sorted
        /// services, then the port number, then the endpoint's place in the port's list.
        public var rank: Rank
    }

    /// A place in the registry's stable order (host, port, endpoint).
    public struct Rank: Sendable, Hashable, Comparable {
        var host: Int
        var port: UInt32
        var endpoint: Int

        public static func < (a: Rank, b: Rank) -> Bool { (a.host, a.port, a.endpoint) < (b.host, b.port, b.endpoint) }
    }

    private struct AddressKey: Sendable, Hashable {
        var namespace: String
        var address: String
    }

    public init(
        services: [String: Service] = [:], endpoints: [String: [UInt32: [Endpoint]]] = [:],
        weightOverflows: [String: WeightOverflow] = [:], aliases: [String: [String]] = [:]
    ) {
        self.services = services
        self.endpoints = endpoints
        self.weightOverflows = weightOverflows
        self.aliases = aliases
        self.sortedServices = services.values.sorted { $0.host < $1.host }
        self.byAddress = Self.index(sortedServices, endpoints)
    }

    /// The same services with other endpoints for `hosts` (and the weight overflows given);
    /// keeps the sorted service list and updates the address index for those hosts only, so an
    /// endpoint-only change costs what it touches, not the whole registry. `endpoints` must
    /// differ from this snapshot's only at `hosts`.
    public func replacing(
        endpoints: [String: [UInt32: [Endpoint]]], weightOverflows: [String: WeightOverflow], hosts: Set<String>
    ) -> RegistrySnapshot {
        var index = byAddress
        var touched: Set<AddressKey> = []
        for host in hosts {
            for endpoint in (self.endpoints[host] ?? [:]).values.joined() {
                let key = AddressKey(namespace: endpoint.source.namespace, address: endpoint.address)
                index[key]?.removeAll { $0.host == host }
                if index[key]?.isEmpty == true { index.removeValue(forKey: key) }
            }
            for endpoint in (endpoints[host] ?? [:]).values.joined() {
                touched.insert(AddressKey(namespace: endpoint.source.namespace, address: endpoint.address))
            }
        }
        for (position, service) in sortedServices.enumerated() where hosts.contains(service.host) {
            Self.add(service, at: position, endpoints: endpoints, to: &index)
        }
        // Each list in registry order, as a full build makes it (snapshots compare equal).
        for key in touched { index[key]?.sort { $0.rank < $1.rank } }
        return RegistrySnapshot(
            services: services, sortedServices: sortedServices, endpoints: endpoints, weightOverflows: weightOverflows,
            aliases: aliases, byAddress: index)
    }

    private init(
        services: [String: Service], sortedServices: [Service], endpoints: [String: [UInt32: [Endpoint]]],
        weightOverflows: [String: WeightOverflow], aliases: [String: [String]], byAddress: [AddressKey: [AddressedEndpoint]]
    ) {
        self.services = services
        self.sortedServices = sortedServices
        self.endpoints = endpoints
        self.weightOverflows = weightOverflows
        self.aliases = aliases
        self.byAddress = byAddress
    }

    private static func index(_ services: [Service], _ endpoints: [String: [UInt32: [Endpoint]]]) -> [AddressKey: [AddressedEndpoint]] {
        var index: [AddressKey: [AddressedEndpoint]] = [:]
        for (position, service) in services.enumerated() { add(service, at: position, endpoints: endpoints, to: &index) }
        return index
    }

    private static func add(
        _ service: Service, at position: Int, endpoints: [String: [UInt32: [Endpoint]]], to index: inout [AddressKey: [AddressedEndpoint]]
    ) {
        for port in service.ports {
            for (place, endpoint) in (endpoints[service.host]?[port.number] ?? []).enumerated() {
                index[AddressKey(namespace: endpoint.source.namespace, address: endpoint.address), default: []].append(
                    AddressedEndpoint(
                        port: port, endpoint: endpoint, host: service.host, rank: Rank(host: position, port: port.number, endpoint: place)))
            }
        }
    }

    /// The service ports reaching endpoints in `namespace` at any of `addresses`, in the
    /// registry's stable order (host, port, endpoint).
    public func endpoints(namespace: String, addresses: Set<String>) -> [AddressedEndpoint] {
        addresses.flatMap { byAddress[AddressKey(namespace: namespace, address: $0)] ?? [] }.sorted { $0.rank < $1.rank }
    }

    /// The service for a host, if registered.
    public func service(_ host: String) -> Service? { services[host] }

    /// Endpoints of `host:port` whose labels carry every label in `selector`, in a stable order.
    public func endpoints(host: String, port: UInt32, selector: [String: String] = [:]) -> [Endpoint] {
        (endpoints[host]?[port] ?? []).filter { $0.matches(selector) }
    }

    /// What changed between `old` and this snapshot, as typed events (sorted by host).
    public func events(since old: RegistrySnapshot) -> [RegistryEvent] {
        var events: [RegistryEvent] = []
        for host in Set(services.keys).union(old.services.keys).sorted() {
            switch (old.services[host], services[host]) {
            case (nil, .some): events.append(.serviceAdded(host))
            case (.some, nil): events.append(.serviceRemoved(host))
            case (.some(let a), .some(let b)) where a != b || aliases[host] != old.aliases[host]: events.append(.serviceUpdated(host))
            default: break
            }
            if old.endpoints[host] != endpoints[host], services[host] != nil, old.services[host] != nil {
                events.append(.endpointsChanged(host))
            }
        }
        return events
    }
}

/// A typed registry change.
public enum RegistryEvent: Sendable, Hashable {
    case serviceAdded(String)
    case serviceUpdated(String)
    case serviceRemoved(String)
    case endpointsChanged(String)

    /// The host the event is about.
    public var host: String {
        switch self {
        case .serviceAdded(let h), .serviceUpdated(let h), .serviceRemoved(let h), .endpointsChanged(let h): h
        }
    }
}

/// A service whose endpoints' weights add up past uint32 — possible only across resources (one
/// ServiceEntry's selector picking WorkloadEntries whose weights each fit). Proxies cannot take
/// such a sum: writes that cause one are refused, and the translator scales weights down for
/// any that slipped in.
public struct WeightOverflow: Sendable, Hashable {
    /// The ServiceEntry that declares the service.
    public var service: ConfigKey
    /// The WorkloadEntries whose weights were added.
    public var workloads: [ConfigKey]

    public init(service: ConfigKey, workloads: [ConfigKey]) {
        self.service = service
        self.workloads = workloads
    }
}

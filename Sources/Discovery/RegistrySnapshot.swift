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

    public init(services: [String: Service] = [:], endpoints: [String: [UInt32: [Endpoint]]] = [:],
                weightOverflows: [String: WeightOverflow] = [:]) {
        self.services = services
        self.endpoints = endpoints
        self.weightOverflows = weightOverflows
        self.sortedServices = services.values.sorted { $0.host < $1.host }
    }

    /// The same services with other endpoints (and their weight overflows); keeps the sorted
    /// service list, so an endpoint-only change does not sort again.
    public func replacing(endpoints: [String: [UInt32: [Endpoint]]], weightOverflows: [String: WeightOverflow]) -> RegistrySnapshot {
        RegistrySnapshot(services: services, sortedServices: sortedServices, endpoints: endpoints, weightOverflows: weightOverflows)
    }

    private init(services: [String: Service], sortedServices: [Service], endpoints: [String: [UInt32: [Endpoint]]],
                 weightOverflows: [String: WeightOverflow]) {
        self.services = services
        self.sortedServices = sortedServices
        self.endpoints = endpoints
        self.weightOverflows = weightOverflows
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
            case (.some(let a), .some(let b)) where a != b: events.append(.serviceUpdated(host))
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

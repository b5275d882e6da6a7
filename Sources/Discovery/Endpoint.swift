import MeshModel

/// One reachable instance of a service port: where a client sends traffic.
public struct Endpoint: Sendable, Hashable {
    /// The IP address (or host name) of the workload.
    public var address: String
    /// The workload's port number for the service port.
    public var port: UInt32
    /// The workload's labels; subsets select endpoints by them.
    public var labels: [String: String]
    /// `region/zone/subzone`, any part may be empty.
    public var locality: Locality
    /// Relative weight within its locality (1 when not given).
    public var weight: UInt32
    /// Whether clients may pick it (only when healthy); draining endpoints finish what they
    /// have but get nothing new.
    public var health: HealthStatus
    /// The network it is on (WorkloadEntry `network`), for `failoverPriority`; nil when unset.
    public var network: String?
    /// The service account the workload runs as.
    public var serviceAccount: String?
    /// The WorkloadEntry (or ServiceEntry, for inline endpoints; Pod for Kubernetes) it came from.
    public var source: RegistrySource

    public init(
        address: String, port: UInt32, labels: [String: String], locality: Locality, weight: UInt32,
        health: HealthStatus, serviceAccount: String?, source: RegistrySource, network: String? = nil
    ) {
        self.address = address
        self.port = port
        self.labels = labels
        self.locality = locality
        self.weight = weight
        self.health = health
        self.network = network
        self.serviceAccount = serviceAccount
        self.source = source
    }

    /// Whether clients may send it new traffic.
    public var healthy: Bool { health == .healthy }

    /// Whether the endpoint carries every label of `selector`.
    public func matches(_ selector: [String: String]) -> Bool {
        ConfigRegistry.labels(labels, match: selector)
    }
}

import MeshModel

/// The services and endpoints a platform registry (Kubernetes) contributes, at one generation:
/// what the push side merges with the ServiceEntry/WorkloadEntry registry (`ConfigRegistry`).
///
/// Istio's merge rules apply there: a platform service takes its host from a ServiceEntry, and
/// a platform service with a selector also selects the WorkloadEntries of its namespace.
public struct PlatformServices: Sendable, Hashable {
    /// Bumped by the platform registry on every change; 0 for none.
    public var generation: Int64
    /// Services by host.
    public var services: [String: Service]
    /// Endpoints by host, then by service port number.
    public var endpoints: [String: [UInt32: [Endpoint]]]
    /// The label selector of each service that selects workloads (non-empty, load-balanced:
    /// not headless), by host: WorkloadEntries of its namespace whose labels carry it join it.
    public var selectors: [String: [String: String]]
    /// Kubernetes ExternalName Services: each alias host with the name it points at.
    public var aliases: [String: String]

    public init(
        generation: Int64 = 0, services: [String: Service] = [:], endpoints: [String: [UInt32: [Endpoint]]] = [:],
        selectors: [String: [String: String]] = [:], aliases: [String: String] = [:]
    ) {
        self.generation = generation
        self.services = services
        self.endpoints = endpoints
        self.selectors = selectors
        self.aliases = aliases
    }

    /// No platform registry.
    public static let none = PlatformServices()
}

import MeshCommon

/// Istio `WorkloadEntry`: one workload outside Kubernetes (a VM, a process), either as its own
/// resource or inline as a ServiceEntry endpoint.
public struct WorkloadEntry: Sendable, Hashable {
    /// IP address or host name of the workload.
    public var address: String
    /// Port name (matching a service port's name) → the port the workload listens on.
    public var ports: [String: UInt32]
    /// The workload's labels (`app`, `version`, …), used by subsets and selectors.
    public var labels: [String: String]
    /// The network the workload is on, for multi-network meshes.
    public var network: String?
    /// `region/zone/subzone`.
    public var locality: String?
    /// Load-balancing weight relative to other endpoints of the same service.
    public var weight: UInt32?
    /// The service account the workload runs as; names its identity.
    public var serviceAccount: String?

    /// Creates a workload entry.
    public init(
        address: String,
        ports: [String: UInt32] = [:],
        labels: [String: String] = [:],
        network: String? = nil,
        locality: String? = nil,
        weight: UInt32? = nil,
        serviceAccount: String? = nil
    ) {
        self.address = address
        self.ports = ports
        self.labels = labels
        self.network = network
        self.locality = locality
        self.weight = weight
        self.serviceAccount = serviceAccount
    }
}

extension WorkloadEntry {
    /// `unix://` followed by an absolute path (or an abstract socket `@name`) of printable ASCII.
    static func isUnixSocket(_ address: String) -> Bool {
        guard address.hasPrefix("unix://") else { return false }
        let path = address.dropFirst("unix://".count)
        guard path.first == "/" || path.first == "@", path.count > 1, !path.hasSuffix("/") else { return false }
        return path.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }

    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        address = try r["address"].requiredString()
        // What proxies can connect to: an IP address, a DNS name, or a Unix socket path.
        guard
            IPAddressSyntax.isIPAddress(address) || (NameRules.isHost(address) && !address.contains("*"))
                || Self.isUnixSocket(address)
        else {
            throw r["address"].error("must be an IP address, a DNS name or unix:///absolute/path")
        }
        var ports: [String: UInt32] = [:]
        for (name, reader) in try r["ports"].members() {
            guard let port = try reader.port() else { throw reader.error("required") }
            ports[name] = port
        }
        self.ports = ports
        labels = try r["labels"].stringMap()
        network = try r["network"].string()
        locality = try r["locality"].string()
        weight = try r["weight"].uint32()
        serviceAccount = try r["serviceAccount"].string()
    }
}

import MeshModel

/// A service in the mesh registry: one host with its ports, as a client addresses it.
public struct Service: Sendable, Hashable {
    /// One port of a service.
    public struct Port: Sendable, Hashable {
        /// The port number clients dial.
        public var number: UInt32
        /// The port's name; workloads map it to their own port numbers.
        public var name: String
        /// The protocol (GRPC, HTTP, HTTP2, TCP, ...), upper-cased; empty when not declared.
        public var protocolName: String
        /// The workload port to use when a workload gives none for this port's name.
        public var targetPort: UInt32?

        public init(number: UInt32, name: String, protocolName: String, targetPort: UInt32? = nil) {
            self.number = number
            self.name = name
            self.protocolName = protocolName
            self.targetPort = targetPort
        }
    }

    /// The fully qualified host name (`reviews.default.svc.cluster.local`).
    public var host: String
    /// The namespace of the ServiceEntry (or Kubernetes Service) that declared it.
    public var namespace: String
    /// Ports, sorted by number.
    public var ports: [Port]
    /// The ServiceEntry or Kubernetes Service that declared it.
    public var source: RegistrySource
    /// Its ServiceEntry's `exportTo` (empty: every namespace).
    public var exportTo: [String]
    /// How clients find its endpoints (its ServiceEntry's `resolution`).
    public var resolution: Resolution
    /// Its ServiceEntry's `location`: whether it is part of the mesh (nil: unset, MESH_EXTERNAL).
    public var location: String?
    /// Its ServiceEntry's `addresses` (virtual IPs or CIDRs).
    public var addresses: [String]
    /// Its ServiceEntry's `subjectAltNames`: the identities its servers present.
    public var subjectAltNames: [String]

    /// Istio's resolution modes.
    public enum Resolution: String, Sendable, Hashable {
        /// Traffic goes where the client dialed (no endpoints needed). Istio's default.
        case none = "NONE"
        /// The endpoints are the IP addresses given.
        case `static` = "STATIC"
        /// Each endpoint (or the host itself) is a name resolved by the client, all addresses used.
        case dns = "DNS"
        /// One name resolved by the client, connections spread over its addresses.
        case dnsRoundRobin = "DNS_ROUND_ROBIN"
    }

    public init(
        host: String, namespace: String, ports: [Port], source: RegistrySource, exportTo: [String] = [],
        resolution: Resolution = .static, location: String? = nil, addresses: [String] = [], subjectAltNames: [String] = []
    ) {
        self.host = host
        self.namespace = namespace
        self.ports = ports.sorted { $0.number < $1.number }
        self.source = source
        self.exportTo = exportTo
        self.resolution = resolution
        self.location = location
        self.addresses = addresses
        self.subjectAltNames = subjectAltNames
    }

    /// Whether proxies in `namespace` may see the service (its `exportTo`).
    public func isExported(to namespace: String) -> Bool {
        ExportTo.admits(exportTo, owner: self.namespace, viewer: namespace)
    }

    /// The port with `number`, if the service has it.
    public func port(_ number: UInt32) -> Port? { ports.first { $0.number == number } }
}

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
    /// The namespace of the ServiceEntry that declared it.
    public var namespace: String
    /// Ports, sorted by number.
    public var ports: [Port]
    /// The ServiceEntry that declared it.
    public var source: ConfigKey
    /// Its ServiceEntry's `exportTo` (empty: every namespace).
    public var exportTo: [String]

    public init(host: String, namespace: String, ports: [Port], source: ConfigKey, exportTo: [String] = []) {
        self.host = host
        self.namespace = namespace
        self.ports = ports.sorted { $0.number < $1.number }
        self.source = source
        self.exportTo = exportTo
    }

    /// Whether proxies in `namespace` may see the service (its `exportTo`).
    public func isExported(to namespace: String) -> Bool {
        ExportTo.admits(exportTo, owner: self.namespace, viewer: namespace)
    }

    /// The port with `number`, if the service has it.
    public func port(_ number: UInt32) -> Port? { ports.first { $0.number == number } }
}

import Discovery
import MeshModel

/// One port the workload beside an Envoy sidecar serves, as its inbound listener exposes it:
/// the port traffic arrives on (the service port's target), how it is carried, and where the
/// sidecar hands it (the workload on loopback, or a Sidecar ingress' `defaultEndpoint`).
public struct InboundPort: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The port traffic arrives on (what `inbound|PORT||` names).
    public var number: UInt32
    /// The protocol it speaks, upper-case (`GRPC`, `HTTP`, `TCP`…: the service port's, or what
    /// its name says; empty when neither says): decides HTTP or TCP handling and HTTP/2 to
    /// the workload.
    public var protocolName: String
    /// Where the traffic goes.
    public var endpoint: SidecarIngress.Endpoint

    public init(number: UInt32, protocolName: String, endpoint: SidecarIngress.Endpoint? = nil) {
        self.number = number
        self.protocolName = protocolName
        self.endpoint = endpoint ?? .socket(address: "127.0.0.1", port: number)
    }

    /// A Sidecar ingress listener's port.
    init(ingress: SidecarIngress) {
        self.init(
            number: ingress.port, protocolName: PortProtocol.declared(protocol: ingress.protocol, name: ingress.name),
            endpoint: ingress.endpoint)
    }

    public static func < (a: Self, b: Self) -> Bool { a.number < b.number }

    public var description: String { "\(number)" }

    /// The ports of the sidecar's own workload: the endpoints, in the proxy's namespace, whose
    /// address is one of the proxy's addresses (INSTANCE_IPS, else the IP of its node id) —
    /// a WorkloadEntry (or a ServiceEntry's inline endpoint) that a service selects. One entry
    /// per workload port; where two services reach one port, the first service (by host) gives
    /// the protocol. Empty when the proxy has no address or no service selects its workload:
    /// then every inbound connection passes through unchanged.
    public static func ports(of proxy: Proxy, in registry: RegistrySnapshot) -> [InboundPort] {
        guard GeneratorTable.takesWorkloadPorts(proxy.kind), !proxy.instanceIPs.isEmpty else { return [] }
        var byNumber: [UInt32: InboundPort] = [:]
        for found in registry.endpoints(namespace: proxy.namespace, addresses: Set(proxy.instanceIPs))
        where byNumber[found.endpoint.port] == nil {
            byNumber[found.endpoint.port] = InboundPort(
                number: found.endpoint.port,
                protocolName: PortProtocol.declared(protocol: found.port.protocolName, name: found.port.name))
        }
        return byNumber.values.sorted()
    }
}

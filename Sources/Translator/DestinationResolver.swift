import Discovery
import MeshModel

/// Turns a VirtualService destination into the cluster it names, or says why it cannot.
///
/// Shared by the route generator (which must never name a cluster that does not exist) and the
/// reference checker (which warns about the same cases at apply time), so the two never disagree.
public enum DestinationResolver {
    /// Why a destination names no existing cluster.
    public enum Failure: Error, Sendable, Hashable {
        case unknownHost(String)
        case unknownPort(host: String, port: UInt32)
        case unknownSubset(host: String, subset: String)

        /// The message and the field (relative to the destination) it concerns.
        public var detail: (field: String, message: String) {
            switch self {
            case .unknownHost(let host):
                ("host", "host \(host) is not in the registry (or not visible here); traffic for this destination fails until it is")
            case .unknownPort(let host, let port):
                ("port.number", "service \(host) has no port \(port)")
            case .unknownSubset(let host, let subset):
                ("subset", "subset \"\(subset)\" is not defined by any DestinationRule for \(host)")
            }
        }
    }

    /// What a destination resolves to: the service port and subset, and their cluster.
    public struct Target: Sendable, Hashable {
        public var host: String
        public var port: UInt32
        /// The subset, nil for the whole host.
        public var subset: String?
        public var cluster: String
    }

    /// Resolves `destination` of a VirtualService in `namespace`, routed from a listener on
    /// `listenerPort`, against what `lookup` sees (a proxy's view, or a namespace's).
    public static func cluster(
        for destination: Destination, namespace: String, listenerPort: UInt32?,
        in lookup: some DestinationLookup
    ) -> Result<String, Failure> {
        target(for: destination, namespace: namespace, listenerPort: listenerPort, in: lookup).map(\.cluster)
    }

    /// `cluster(for:…)` with the port and subset it resolved, for policies keyed by them.
    public static func target(
        for destination: Destination, namespace: String, listenerPort: UInt32?,
        in lookup: some DestinationLookup
    ) -> Result<Target, Failure> {
        let host = HostName.resolve(destination.host, namespace: namespace)
        guard let service = lookup.service(host) else { return .failure(.unknownHost(host)) }
        let port: UInt32
        if let explicit = destination.port {
            port = explicit
        } else if service.ports.count == 1 {
            port = service.ports[0].number
        } else if let listenerPort, service.port(listenerPort) != nil {
            port = listenerPort
        } else {
            return .failure(.unknownPort(host: host, port: listenerPort ?? 0))
        }
        guard service.port(port) != nil else { return .failure(.unknownPort(host: host, port: port)) }
        if let subset = destination.subset, !subset.isEmpty {
            guard lookup.destinationRule(host)?.subset(subset) != nil else {
                return .failure(.unknownSubset(host: host, subset: subset))
            }
            return .success(
                Target(
                    host: host, port: port, subset: subset,
                    cluster: ClusterName.outbound(port: port, subset: subset, host: host)))
        }
        return .success(Target(host: host, port: port, subset: nil, cluster: ClusterName.outbound(port: port, host: host)))
    }
}

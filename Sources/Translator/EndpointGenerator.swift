import Discovery
import EnvoyAPI
import SwiftProtobuf

/// EDS: one ClusterLoadAssignment per cluster, endpoints grouped by locality with locality weights
/// set (grpcio silently drops a locality without one).
public struct EndpointGenerator: HostScopedGenerator {
    public init() {}

    public var typeURL: String { TypeURL.endpoint }

    public func generate(for view: ProxyView, in push: PushContext) -> [XDSResource] {
        generate(for: view, in: push, services: view.services)
    }

    /// The assignments of `hosts` only: what an endpoint-only change needs regenerated.
    public func generate(for view: ProxyView, in push: PushContext, hosts: Set<String>) -> [XDSResource] {
        generate(for: view, in: push, services: hosts.sorted().compactMap { view.service($0) })
    }

    private func generate(for view: ProxyView, in push: PushContext, services: [Service]) -> [XDSResource] {
        var resources: [XDSResource] = []
        for service in services {
            let rule = view.destinationRule(service.host)
            for port in service.ports {
                let all = push.registry.endpoints(host: service.host, port: port.number)
                let name = ClusterName.outbound(port: port.number, host: service.host)
                resources.append(assignment(name, endpoints: all))
                for subset in rule?.spec.subsets ?? [] {
                    let selected = all.filter { $0.matches(subset.labels) }
                    resources.append(assignment(ClusterName.outbound(port: port.number, subset: subset.name, host: service.host), endpoints: selected))
                }
            }
        }
        return resources.sorted { $0.name < $1.name }
    }

    private func assignment(_ name: String, endpoints: [Endpoint]) -> XDSResource {
        var cla = Envoy_Config_Endpoint_V3_ClusterLoadAssignment()
        cla.clusterName = name
        let byLocality = Dictionary(grouping: endpoints, by: \.locality)
        let localities = byLocality.keys.sorted()
        let members = localities.map { locality in
            (byLocality[locality] ?? []).sorted { ($0.address, $0.port) < ($1.address, $1.port) }
        }
        let weights = WeightScaling.fitted(members.map { $0.map(\.weight) })
        for (index, locality) in localities.enumerated() {
            var group = Envoy_Config_Endpoint_V3_LocalityLbEndpoints()
            group.locality.region = locality.region
            group.locality.zone = locality.zone
            group.locality.subZone = locality.subZone
            group.lbEndpoints = zip(members[index], weights[index]).map { lbEndpoint($0, weight: $1) }
            group.loadBalancingWeight = Google_Protobuf_UInt32Value(max(1, WeightScaling.sum(weights[index])))
            cla.endpoints.append(group)
        }
        return XDSResource(name: name, message: cla)
    }

    private func lbEndpoint(_ endpoint: Endpoint, weight: UInt32) -> Envoy_Config_Endpoint_V3_LbEndpoint {
        var lb = Envoy_Config_Endpoint_V3_LbEndpoint()
        var address = Envoy_Config_Core_V3_SocketAddress()
        address.address = endpoint.address
        address.portValue = endpoint.port
        lb.endpoint.address.socketAddress = address
        lb.healthStatus = endpoint.healthy ? .healthy : .unhealthy
        lb.loadBalancingWeight = Google_Protobuf_UInt32Value(max(1, weight))
        return lb
    }
}

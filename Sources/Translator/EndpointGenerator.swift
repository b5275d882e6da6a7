import Discovery
import EnvoyAPI
import MeshModel
import SwiftProtobuf

/// EDS: one ClusterLoadAssignment per cluster, endpoints grouped by locality with locality weights
/// set (grpcio silently drops a locality without one), re-weighted or given priorities by the
/// DestinationRule's locality load balancing for the proxy's locality (`LocalityLoadBalancing`).
/// Clusters whose endpoints travel inside the cluster (DNS, as `ClusterDiscovery` decides for
/// the dialect) get no assignment; with `autoMTLS` each endpoint with a sidecar carries the
/// metadata Istio's automatic mTLS matches on.
public struct EndpointGenerator: HostScopedGenerator {
    /// Whether endpoints carry auto mTLS metadata (`AutoMTLS`; Envoy only).
    public let autoMTLS: Bool
    /// The xDS the proxy reads (decides which clusters are EDS clusters).
    public let dialect: ProxyDialect

    public init(autoMTLS: Bool, dialect: ProxyDialect) {
        self.autoMTLS = autoMTLS
        self.dialect = dialect
    }

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
            let rule = view.destinationRule(service.host)?.spec
            for port in service.ports {
                let all = push.registry.endpoints(host: service.host, port: port.number)
                let name = ClusterName.outbound(port: port.number, host: service.host)
                // A LOGICAL_DNS cluster carries its own endpoint: no assignment for it.
                if ClusterDiscovery.of(service, port: port, endpoints: all, serviceHasEndpoints: !all.isEmpty, dialect: dialect) == .eds {
                    resources.append(assignment(name, endpoints: all, policy: rule?.policy(subset: nil, port: port.number), view: view, push: push))
                }
                for subset in rule?.subsets ?? [] {
                    let selected = all.filter { $0.matches(subset.labels) }
                    guard ClusterDiscovery.of(service, port: port, endpoints: selected, serviceHasEndpoints: !all.isEmpty, dialect: dialect) == .eds
                    else { continue }
                    resources.append(
                        assignment(
                            ClusterName.outbound(port: port.number, subset: subset.name, host: service.host),
                            endpoints: selected, policy: rule?.policy(subset: subset.name, port: port.number), view: view, push: push))
                }
            }
        }
        return resources.sorted { $0.name < $1.name }
    }

    private func assignment(_ name: String, endpoints: [Endpoint], policy: PolicySettings?, view: ProxyView, push: PushContext) -> XDSResource {
        var cla = Envoy_Config_Endpoint_V3_ClusterLoadAssignment()
        cla.clusterName = name
        var groups = Self.groups(endpoints)
        if let policy {
            groups = LocalityLoadBalancing.apply(policy, to: groups, locality: view.key.locality, labels: view.key.priorityLabels)
        }
        for group in groups.sorted(by: { ($0.priority, $0.locality) < ($1.priority, $1.locality) }) {
            var out = Envoy_Config_Endpoint_V3_LocalityLbEndpoints()
            out.locality.region = group.locality.region
            out.locality.zone = group.locality.zone
            out.locality.subZone = group.locality.subZone
            out.priority = group.priority
            out.lbEndpoints = group.endpoints.map { member in
                var endpoint = lbEndpoint(member.endpoint, weight: member.weight)
                // Envoy sidecars pick mesh mTLS per endpoint by this (`AutoMTLS`).
                if autoMTLS, let metadata = AutoMTLS.metadata(for: member.endpoint, in: push) { endpoint.metadata = metadata }
                return endpoint
            }
            out.loadBalancingWeight = Google_Protobuf_UInt32Value(max(1, group.weight))
            cla.endpoints.append(out)
        }
        return XDSResource(name: name, message: cla)
    }

    /// The endpoints grouped by locality (sorted), at priority 0, with endpoint weights fitted
    /// into uint32 sums and each locality weighted by the sum of its endpoints' weights.
    static func groups(_ endpoints: [Endpoint]) -> [LocalityLoadBalancing.Group] {
        let byLocality = Dictionary(grouping: endpoints, by: \.locality)
        let localities = byLocality.keys.sorted()
        let members = localities.map { locality in
            (byLocality[locality] ?? []).sorted { ($0.address, $0.port) < ($1.address, $1.port) }
        }
        let weights = WeightScaling.fitted(members.map { $0.map(\.weight) })
        return localities.indices.map { index in
            LocalityLoadBalancing.Group(
                locality: localities[index], priority: 0,
                endpoints: Array(zip(members[index], weights[index])).map { ($0, $1) },
                weight: WeightScaling.sum(weights[index]))
        }
    }

    private func lbEndpoint(_ endpoint: Endpoint, weight: UInt32) -> Envoy_Config_Endpoint_V3_LbEndpoint {
        var lb = Envoy_Config_Endpoint_V3_LbEndpoint()
        var address = Envoy_Config_Core_V3_SocketAddress()
        address.address = endpoint.address
        address.portValue = endpoint.port
        lb.endpoint.address.socketAddress = address
        switch endpoint.health {
        case .healthy: lb.healthStatus = .healthy
        case .unhealthy: lb.healthStatus = .unhealthy
        case .draining: lb.healthStatus = .draining
        }
        lb.loadBalancingWeight = Google_Protobuf_UInt32Value(max(1, weight))
        return lb
    }
}

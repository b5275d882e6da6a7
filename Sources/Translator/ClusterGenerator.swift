import EnvoyAPI
import SwiftProtobuf

/// CDS: for every service port an EDS cluster `outbound|PORT||HOST`, plus one
/// `outbound|PORT|SUBSET|HOST` per subset of the host's DestinationRule.
public struct ClusterGenerator: ResourceGenerator {
    public init() {}

    public var typeURL: String { TypeURL.cluster }

    public func generate(for proxy: Proxy, in push: PushContext) -> [XDSResource] {
        var resources: [XDSResource] = []
        for service in push.registry.sortedServices {
            let subsets = push.destinationRules[service.host]?.spec.subsets.map(\.name) ?? []
            for port in service.ports {
                resources.append(cluster(ClusterName.outbound(port: port.number, host: service.host)))
                for subset in subsets {
                    resources.append(cluster(ClusterName.outbound(port: port.number, subset: subset, host: service.host)))
                }
            }
        }
        return resources.sorted { $0.name < $1.name }
    }

    private func cluster(_ name: String) -> XDSResource {
        var cluster = Envoy_Config_Cluster_V3_Cluster()
        cluster.name = name
        cluster.type = .eds
        cluster.edsClusterConfig.edsConfig = .adsV3
        // The EDS name is the cluster name: one ClusterLoadAssignment per cluster, subset-filtered.
        cluster.edsClusterConfig.serviceName = name
        cluster.connectTimeout = Google_Protobuf_Duration(seconds: 10)
        cluster.lbPolicy = .roundRobin
        return XDSResource(name: name, message: cluster)
    }
}

extension Envoy_Config_Core_V3_ConfigSource {
    /// "Over the same ADS stream, v3 resources."
    static var adsV3: Self {
        var source = Self()
        source.ads = Envoy_Config_Core_V3_AggregatedConfigSource()
        source.resourceApiVersion = .v3
        return source
    }
}

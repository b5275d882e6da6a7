import EnvoyAPI
import SwiftProtobuf

/// The clusters every Envoy sidecar gets besides its services' (istiod sends them always):
/// `PassthroughCluster` (the connection's original destination), `BlackHoleCluster` (no
/// endpoints: traffic is dropped), `InboundPassthroughCluster` (the original destination,
/// from 127.0.0.6), and `prometheus_stats`
/// (Envoy's own admin port, which the stats listener forwards to).
enum EnvoyLocalClusters {
    static func all() -> [Envoy_Config_Cluster_V3_Cluster] {
        [
            originalDestination(EnvoyNames.passthroughCluster),
            blackHole(),
            inboundPassthrough(),
            loopback(EnvoyNames.prometheusStatsCluster, port: EnvoyNames.adminPort),
        ]
    }

    /// Forwards to where the connection was going (Envoy picks the host; CLUSTER_PROVIDED is
    /// the only load-balancing policy it accepts for this type).
    static func originalDestination(_ name: String) -> Envoy_Config_Cluster_V3_Cluster {
        var cluster = base(name)
        cluster.type = .originalDst
        cluster.lbPolicy = .clusterProvided
        return cluster
    }

    /// Inbound traffic for ports no service declares, to where it was going, sent from
    /// 127.0.0.6 so the capture rules do not take it back to Envoy.
    static func inboundPassthrough() -> Envoy_Config_Cluster_V3_Cluster {
        var cluster = originalDestination(EnvoyNames.inboundPassthroughCluster)
        cluster.upstreamBindConfig.sourceAddress.address = EnvoyNames.inboundPassthroughSource
        cluster.upstreamBindConfig.sourceAddress.portValue = 0
        return cluster
    }

    static func blackHole() -> Envoy_Config_Cluster_V3_Cluster {
        var cluster = base(EnvoyNames.blackHoleCluster)
        cluster.type = .static
        return cluster
    }

    /// A STATIC cluster of one endpoint, `address:port` (127.0.0.1 unless given).
    static func loopback(_ name: String, address: String = "127.0.0.1", port: UInt32) -> Envoy_Config_Cluster_V3_Cluster {
        single(name, EnvoyFilters.address(address, port: port))
    }

    /// A STATIC cluster of one Unix domain socket.
    static func pipe(_ name: String, path: String) -> Envoy_Config_Cluster_V3_Cluster {
        var address = Envoy_Config_Core_V3_Address()
        address.pipe.path = path
        return single(name, address)
    }

    private static func single(_ name: String, _ address: Envoy_Config_Core_V3_Address) -> Envoy_Config_Cluster_V3_Cluster {
        var cluster = base(name)
        cluster.type = .static
        var endpoint = Envoy_Config_Endpoint_V3_LbEndpoint()
        endpoint.endpoint.address = address
        var locality = Envoy_Config_Endpoint_V3_LocalityLbEndpoints()
        locality.lbEndpoints = [endpoint]
        cluster.loadAssignment.clusterName = name
        cluster.loadAssignment.endpoints = [locality]
        return cluster
    }

    private static func base(_ name: String) -> Envoy_Config_Cluster_V3_Cluster {
        var cluster = Envoy_Config_Cluster_V3_Cluster()
        cluster.name = name
        cluster.connectTimeout = Google_Protobuf_Duration(seconds: 10)
        return cluster
    }
}

import EnvoyAPI
import MeshModel
import SwiftProtobuf

/// The inbound side of an Envoy sidecar: `virtualInbound` on 15006, where iptables sends
/// connections for the workload, and the clusters that reach the workload on loopback.
///
/// One filter chain per workload port (matched on the original destination port, which the
/// original_dst listener filter restores): an HttpConnectionManager whose single inline route
/// forwards to `inbound|PORT||` for HTTP ports, tcp_proxy to it otherwise. A port no service
/// declares passes through to `InboundPassthroughClusterIpv4` unchanged (the default chain).
/// The ports are the view's (`ProxyView.workloadPorts`): a Sidecar's `ingress` listeners when it has
/// any, else the workload's services'.
enum EnvoyInbound {
    static func listener(_ ports: [InboundPort]) -> Envoy_Config_Listener_V3_Listener {
        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = EnvoyNames.virtualInbound
        listener.address = EnvoyFilters.address("0.0.0.0", port: EnvoyNames.inboundCapturePort)
        listener.trafficDirection = .inbound
        listener.listenerFilters = [EnvoyFilters.originalDestination()]
        listener.filterChains = ports.map { port in
            var match = Envoy_Config_Listener_V3_FilterChainMatch()
            match.destinationPort = Google_Protobuf_UInt32Value(port.number)
            let cluster = EnvoyNames.inboundCluster(port: port.number)
            let filter =
                PortProtocol(protocolName: port.protocolName) == .http
                ? EnvoyFilters.httpConnectionManager(statPrefix: "inbound_0.0.0.0_\(port.number)", routes: routes(port.number))
                : EnvoyFilters.tcpProxy(cluster: cluster)
            return EnvoyFilters.chain(EnvoyNames.wildcardListener(port: port.number), match: match, filter)
        }
        listener.defaultFilterChain = EnvoyFilters.chain(
            "PassthroughFilterChain",
            EnvoyFilters.tcpProxy(cluster: EnvoyNames.inboundPassthroughCluster))
        return listener
    }

    /// `inbound|PORT||`: the workload on loopback, or the ingress' endpoint (STATIC, as istiod
    /// sends it), with the outbound clusters' protocol options (`EnvoyTrafficPolicy`): a gRPC
    /// or HTTP/2 workload is spoken to in HTTP/2.
    static func clusters(_ ports: [InboundPort]) -> [Envoy_Config_Cluster_V3_Cluster] {
        ports.map { port in
            let name = EnvoyNames.inboundCluster(port: port.number)
            var cluster =
                switch port.endpoint {
                case .socket(let address, let target): EnvoyLocalClusters.loopback(name, address: address, port: target)
                case .pipe(let path): EnvoyLocalClusters.pipe(name, path: path)
                }
            if PortProtocol(protocolName: port.protocolName) == .http {
                EnvoyTrafficPolicy.apply(PolicySettings(), to: &cluster, protocolName: port.protocolName)
            }
            return cluster
        }
    }

    private static func routes(_ port: UInt32) -> Envoy_Config_Route_V3_RouteConfiguration {
        var route = Envoy_Config_Route_V3_Route()
        route.name = "default"
        route.match.prefix = "/"
        route.route.cluster = EnvoyNames.inboundCluster(port: port)
        var host = Envoy_Config_Route_V3_VirtualHost()
        host.name = "inbound|http|\(port)"
        host.domains = ["*"]
        host.routes = [route]
        var configuration = Envoy_Config_Route_V3_RouteConfiguration()
        configuration.name = EnvoyNames.inboundCluster(port: port)
        configuration.virtualHosts = [host]
        return configuration
    }
}

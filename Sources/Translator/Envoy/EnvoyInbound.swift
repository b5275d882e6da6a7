import EnvoyAPI
import MeshModel
import SwiftProtobuf

/// The inbound side of an Envoy sidecar: `virtualInbound` on 15006, where iptables sends
/// connections for the workload, and the clusters that reach the workload on loopback.
///
/// The chains, in istiod's order and shapes (`listener_inbound.go`):
/// 1. `virtualInbound-blackhole`: a connection to 15006 itself is dropped (no loops);
/// 2. the passthrough chains for ports no service declares, under the workload's mutual TLS
///    mode, to `InboundPassthroughCluster` (the original destination);
/// 3. the same for each port the workload's PeerAuthentication sets a mode for
///    (`portLevelMtls`) but no service declares, under that port's mode;
/// 4. per workload port (matched on the original destination port), under its mode, to
///    `inbound|PORT||`.
/// Each port's chains come from `InboundChains` (mode × HTTP/TCP/Auto); the workload's
/// AuthorizationPolicies are on every chain (HTTP or network RBAC). There is no default chain:
/// what matches nothing (plaintext under STRICT) is closed.
///
/// The ports are the view's (`ProxyView.workloadPorts`): a Sidecar's `ingress` listeners when it
/// has any, else the workload's services'. The policies are those selecting the proxy's labels.
enum EnvoyInbound {
    /// The listener of `view` at `push`, mesh identities of `trustDomain` accepted.
    static func listener(_ view: ProxyView, push: PushContext, trustDomain: String) -> Envoy_Config_Listener_V3_Listener {
        let namespace = view.key.namespace
        let labels = view.key.policyLabels
        let root = push.settings.rootNamespace
        let shared = InboundChains.Shared(
            security: SecurityFilters(push: push, namespace: namespace, labels: labels, gateway: false), trustDomain: trustDomain)
        func mode(_ port: UInt32) -> PeerAuthentication.Mode {
            push.peerAuthentications.mode(namespace: namespace, labels: labels, port: port, rootNamespace: root)
        }
        let ports = view.workloadPorts.filter { $0.number != EnvoyNames.inboundCapturePort }
        let declared = Set(ports.map(\.number))
        let passthrough = EnvoyNames.inboundPassthroughCluster

        var chains = [blackhole()]
        // Port 0: no port-level mode applies, so this is the workload's mode.
        chains += InboundChains.chains(
            .init(
                port: nil, cluster: passthrough, httpName: EnvoyNames.inboundPassthroughHTTPChain,
                tcpName: EnvoyNames.virtualInbound, statPrefix: passthrough, routePort: 0),
            mode: mode(0), carriage: .auto, shared: shared)
        for port in push.peerAuthentications.portLevelPorts(namespace: namespace, labels: labels)
        where !declared.contains(port) && port != EnvoyNames.inboundCapturePort {
            chains += InboundChains.chains(
                .init(
                    port: port, cluster: passthrough, httpName: EnvoyNames.inboundPassthroughHTTPChain,
                    tcpName: EnvoyNames.virtualInbound, statPrefix: passthrough, routePort: 0),
                mode: mode(port), carriage: .auto, shared: shared)
        }
        for port in ports {
            let name = EnvoyNames.wildcardListener(port: port.number)
            chains += InboundChains.chains(
                .init(
                    port: port.number, cluster: EnvoyNames.inboundCluster(port: port.number), httpName: name, tcpName: name,
                    statPrefix: "inbound_\(name)", routePort: port.number),
                mode: mode(port.number), carriage: InboundChains.Carriage(protocolName: port.protocolName),
                shared: shared)
        }

        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = EnvoyNames.virtualInbound
        listener.address = EnvoyFilters.address("0.0.0.0", port: EnvoyNames.inboundCapturePort)
        listener.trafficDirection = .inbound
        listener.continueOnListenerFiltersTimeout = true
        listener.listenerFiltersTimeout = Google_Protobuf_Duration()
        listener.filterChains = chains
        listener.listenerFilters = InboundListenerFilters.filters(for: chains)
        return listener
    }

    /// `virtualInbound-blackhole`: 15006 as a destination is a loop; dropped.
    private static func blackhole() -> Envoy_Config_Listener_V3_FilterChain {
        var match = Envoy_Config_Listener_V3_FilterChainMatch()
        match.destinationPort = .init(EnvoyNames.inboundCapturePort)
        return EnvoyFilters.chain(
            "\(EnvoyNames.virtualInbound)-blackhole", match: match, EnvoyFilters.tcpProxy(cluster: EnvoyNames.blackHoleCluster))
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
}

import Discovery
import EnvoyAPI
import Foundation
import MeshCommon
import MeshModel
import SwiftProtobuf

/// The outbound listeners of an Envoy sidecar, which `virtualOutbound` hands each captured
/// connection to by its original destination:
///
/// - `0.0.0.0_PORT` for every port some visible service serves over HTTP (HTTP, HTTP2, GRPC,
///   GRPC-Web): one HttpConnectionManager whose routes come over RDS as `PORT`;
/// - `ADDRESS_PORT` for each virtual IP of a TCP or TLS service: tcp_proxy to the port's cluster;
/// - TCP and TLS services without a virtual IP become filter chains of `0.0.0.0_PORT` (their
///   VirtualService's `tcp[]`/`tls[]` rules first, `sharedPortChains`): TLS
///   matched by SNI (the host; the TLS inspector then runs), a CIDR address by destination
///   prefix, and a plain TCP service on no condition — the only service on that port Envoy
///   can tell apart, so the first (by host) wins and later ones are left out, as are those
///   whose match an HTTP chain on the port already takes. Such a listener without an
///   unconditioned chain sends what no chain takes where the outbound policy says.
///
/// None binds a socket (`bind_to_port: false`): traffic arrives through `virtualOutbound`.
/// Ports the sidecar itself uses (`EnvoyNames.reservedPorts`) get no listener.
enum EnvoyOutbound {
    /// Whether the sidecar routes `port` by HTTP.
    static func isHTTP(_ port: Service.Port) -> Bool {
        PortProtocol(port) == .http && !EnvoyNames.reservedPorts.contains(port.number)
    }

    static func listeners(for view: ProxyView) -> [Envoy_Config_Listener_V3_Listener] {
        let mode = view.outboundTrafficPolicy ?? .allowAny
        var chains: [UInt32: [Envoy_Config_Listener_V3_FilterChain]] = [:]
        var byAddress: [String: Envoy_Config_Listener_V3_Listener] = [:]
        for service in view.services {
            for port in service.ports where !EnvoyNames.reservedPorts.contains(port.number) {
                let kind = PortProtocol(port)
                if kind == .http { continue }
                let ips = service.addresses.filter { IPAddressSyntax.isIPAddress($0) && !isUnspecified($0) }
                for ip in ips {
                    let name = EnvoyNames.addressListener(address: ip, port: port.number)
                    guard byAddress[name] == nil else { continue }
                    byAddress[name] = listener(
                        name, address: ip, port: port.number,
                        chains: withDistinctMatches(routedChains(service, port: port.number, view: view)))
                }
                guard ips.isEmpty else { continue }
                chains[port.number, default: []].append(contentsOf: sharedPortChains(service, port: port.number, kind: kind, view: view))
            }
        }
        var listeners = Array(byAddress.values)
        let httpPorts = Set(view.services.flatMap { $0.ports.filter(isHTTP).map(\.number) })
        for port in httpPorts.union(chains.keys).sorted() {
            var candidates = chains[port] ?? []
            if httpPorts.contains(port) {
                // First, so that it keeps the unconditioned match against a plain TCP service.
                let name = EnvoyNames.wildcardListener(port: port)
                candidates.insert(
                    EnvoyFilters.chain(
                        name,
                        EnvoyFilters.httpConnectionManager(
                            statPrefix: "outbound_0.0.0.0_\(port)", routeName: EnvoyNames.routeConfiguration(port: port))), at: 0)
            }
            var wildcard = listener(
                EnvoyNames.wildcardListener(port: port), address: "0.0.0.0", port: port,
                chains: withDistinctMatches(candidates))
            // Connections no chain takes (an unknown SNI, an address outside every range) are
            // unknown destinations: the outbound policy decides, as on virtualOutbound.
            if !wildcard.filterChains.contains(where: { !$0.hasFilterChainMatch }) {
                wildcard.defaultFilterChain = passthroughChain(mode)
            }
            listeners.append(wildcard)
        }
        return listeners
    }

    /// tcp_proxy to `PassthroughCluster` (ALLOW_ANY) or `BlackHoleCluster` (REGISTRY_ONLY).
    static func passthroughChain(_ mode: Sidecar.OutboundTrafficMode) -> Envoy_Config_Listener_V3_FilterChain {
        let cluster = mode == .allowAny ? EnvoyNames.passthroughCluster : EnvoyNames.blackHoleCluster
        return EnvoyFilters.chain("PassthroughFilterChain", EnvoyFilters.tcpProxy(cluster: cluster))
    }

    /// A virtual IP's chains: the VirtualService's `tcp[]`/`tls[]` rules for the port
    /// (`L4RouteTranslation`, shared with every Envoy listener), ending in the port's own
    /// cluster; a rule none of whose destinations exists drops what it matches
    /// (`BlackHoleCluster`, as istiod does) instead of letting a later chain take it.
    static func routedChains(_ service: Service, port: UInt32, view: ProxyView) -> [Envoy_Config_Listener_V3_FilterChain] {
        L4RouteTranslation.filterChains(host: service.host, port: port, view: view).map { chain in
            chain.filterChain ?? EnvoyFilters.chain(chain.name, match: chain.match, EnvoyFilters.tcpProxy(cluster: EnvoyNames.blackHoleCluster))
        }
    }

    /// The chains of a TCP or TLS service without a virtual IP on the shared `0.0.0.0_PORT`
    /// listener: its VirtualService's `tcp[]`/`tls[]` rules, then its own cluster, each chain
    /// narrowed to the service — its SNI (TLS) and its CIDR addresses — unless the rule
    /// matches on those itself. The port is the listener's, so it is not matched again: a
    /// plain TCP service's last chain stays unconditioned, as before, and an HTTP chain listed
    /// first keeps it.
    static func sharedPortChains(
        _ service: Service, port: UInt32, kind: PortProtocol,
        view: ProxyView
    ) -> [Envoy_Config_Listener_V3_FilterChain] {
        let cluster = ClusterName.outbound(port: port, host: service.host)
        let prefixes = service.addresses.compactMap(cidrRange)
        return routedChains(service, port: port, view: view).map { routed in
            var chain = routed
            var match = chain.filterChainMatch
            match.clearDestinationPort()
            if match.prefixRanges.isEmpty { match.prefixRanges = prefixes }
            if kind == .tls, match.serverNames.isEmpty {
                match.serverNames = [service.host]
                match.transportProtocol = EnvoyFilters.tlsTransport
            }
            if match == .init() { chain.clearFilterChainMatch() } else { chain.filterChainMatch = match }
            // Several services share the listener: chain names must stay unique on it.
            chain.name = routed.name == "default" ? cluster : "\(cluster)/\(routed.name)"
            return chain
        }
    }

    /// `chains` without those whose match an earlier chain already has (Envoy refuses a
    /// listener with two equal matches).
    static func withDistinctMatches(_ chains: [Envoy_Config_Listener_V3_FilterChain]) -> [Envoy_Config_Listener_V3_FilterChain] {
        var seen: Set<Data> = []
        return chains.filter { seen.insert(AnyPacking.bytes($0.filterChainMatch)).inserted }
    }

    /// An outbound listener that takes connections handed over by `virtualOutbound`; the TLS
    /// inspector runs only when a chain matches on what it reads.
    static func listener(
        _ name: String, address: String, port: UInt32,
        chains: [Envoy_Config_Listener_V3_FilterChain]
    ) -> Envoy_Config_Listener_V3_Listener {
        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = name
        listener.address = EnvoyFilters.address(address, port: port)
        listener.filterChains = chains
        listener.bindToPort = Google_Protobuf_BoolValue(false)
        listener.trafficDirection = .outbound
        if chains.contains(where: { !$0.filterChainMatch.serverNames.isEmpty || !$0.filterChainMatch.transportProtocol.isEmpty }) {
            listener.listenerFilters = [EnvoyFilters.tlsInspector()]
        }
        return listener
    }

    /// `virtualOutbound` on 15001: hands each connection to the listener of its original
    /// destination; what no listener takes goes to `PassthroughCluster` (ALLOW_ANY, the
    /// default) or `BlackHoleCluster` (REGISTRY_ONLY).
    static func virtualOutbound(_ mode: Sidecar.OutboundTrafficMode) -> Envoy_Config_Listener_V3_Listener {
        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = EnvoyNames.virtualOutbound
        listener.address = EnvoyFilters.address("0.0.0.0", port: EnvoyNames.outboundCapturePort)
        listener.useOriginalDst = Google_Protobuf_BoolValue(true)
        listener.trafficDirection = .outbound
        listener.defaultFilterChain = passthroughChain(mode)
        return listener
    }

    private static func isUnspecified(_ address: String) -> Bool { address == "0.0.0.0" || address == "::" }

    /// A CIDR address (`10.0.0.0/24`) as Envoy's prefix range, nil for anything else.
    private static func cidrRange(_ text: String) -> Envoy_Config_Core_V3_CidrRange? {
        guard IPAddressSyntax.isCIDR(text) else { return nil }
        let parts = text.split(separator: "/", maxSplits: 1)
        guard parts.count == 2, let length = UInt32(parts[1]) else { return nil }
        var range = Envoy_Config_Core_V3_CidrRange()
        range.addressPrefix = String(parts[0])
        range.prefixLen = Google_Protobuf_UInt32Value(length)
        return range
    }
}

import EnvoyAPI
import MeshModel
import SwiftProtobuf

/// A VirtualService's `tcp[]` and `tls[]` rules for one service port, as the filter chains of
/// an Envoy listener (the Envoy listener generator places them; proxyless gRPC clients have no
/// TCP routing, and the apply answer says so). A pure function of the view.
///
/// As istiod builds sidecar outbound chains: each `tls[]` match that applies to the proxy (its
/// `port` is the service port or unset; its gateways, caller namespace and labels hold) is a
/// chain matching its SNI hosts (`server_names`, `transport_protocol: tls`); then each `tcp[]`
/// match; a `tcp[]` rule without matches takes every remaining connection and ends the list.
/// Otherwise a last `default` chain sends what is left to the service itself. Every chain
/// matches the destination port; `destinationSubnets` become `prefix_ranges`. Destinations are
/// resolved as HTTP route destinations are (never naming a missing cluster), zero weights are
/// dropped (Envoy requires weights of at least 1) and one left is a plain `cluster`.
public enum L4RouteTranslation {
    /// The chains for `host`'s `port` as `view` sees them, in the order Envoy must try them.
    public static func filterChains(host: String, port: UInt32, view: ProxyView) -> [L4FilterChain] {
        let statPrefix = ClusterName.outbound(port: port, host: host)
        guard let entry = view.virtualServices[host] else {
            return [defaultChain(host: host, port: port, statPrefix: statPrefix)]
        }
        let rules = ruleChains(entry, port: port, binding: .mesh, view: view, statPrefix: statPrefix)
        return rules.takesEverything ? rules.chains : rules.chains + [defaultChain(host: host, port: port, statPrefix: statPrefix)]
    }

    /// The chains of one VirtualService's `tls[]` then `tcp[]` rules for `port` that apply to
    /// `binding`, in order; `takesEverything` when a `tcp[]` rule without matches ends the list
    /// (nothing after it can be reached).
    static func ruleChains(
        _ entry: PushContext.VirtualServiceEntry, port: UInt32, binding: RouteBinding, view: ProxyView, statPrefix: String
    ) -> (chains: [L4FilterChain], takesEverything: Bool) {
        var chains: [L4FilterChain] = []
        let namespace = entry.key.namespace
        let gateways = entry.spec.gateways
        func applies(_ match: L4MatchAttributes) -> Bool {
            (match.port == nil || match.port == port)
                && RouteMatchTranslation.callerConditionsHold(
                    gateways: match.gateways, sourceNamespace: match.sourceNamespace,
                    sourceLabels: match.sourceLabels, virtualServiceGateways: gateways, namespace: namespace,
                    binding: binding, view: view)
        }
        for (r, rule) in entry.spec.tls.enumerated() {
            let proxy = tcpProxy(rule.route, namespace: namespace, port: port, view: view, statPrefix: statPrefix)
            for (m, match) in rule.match.enumerated() where applies(match.connection) {
                var chainMatch = connectionMatch(match.connection, port: port)
                chainMatch.serverNames = match.sniHosts
                chainMatch.transportProtocol = "tls"
                chains.append(L4FilterChain(name: "tls[\(r)].match[\(m)]", match: chainMatch, tcpProxy: proxy))
            }
        }
        for (r, rule) in entry.spec.tcp.enumerated() {
            let proxy = tcpProxy(rule.route, namespace: namespace, port: port, view: view, statPrefix: statPrefix)
            if rule.match.isEmpty {
                guard
                    RouteMatchTranslation.callerConditionsHold(
                        gateways: [], sourceNamespace: nil, sourceLabels: [:],
                        virtualServiceGateways: gateways, namespace: namespace, binding: binding, view: view)
                else { continue }
                chains.append(L4FilterChain(name: "tcp[\(r)]", match: connectionMatch(nil, port: port), tcpProxy: proxy))
                return (chains, true)
            }
            for (m, match) in rule.match.enumerated() where applies(match) {
                chains.append(L4FilterChain(name: "tcp[\(r)].match[\(m)]", match: connectionMatch(match, port: port), tcpProxy: proxy))
            }
        }
        return (chains, false)
    }

    private static func defaultChain(host: String, port: UInt32, statPrefix: String) -> L4FilterChain {
        var proxy = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy()
        proxy.statPrefix = statPrefix
        proxy.cluster = ClusterName.outbound(port: port, host: host)
        return L4FilterChain(name: "default", match: connectionMatch(nil, port: port), tcpProxy: proxy)
    }

    private static func connectionMatch(_ match: L4MatchAttributes?, port: UInt32) -> Envoy_Config_Listener_V3_FilterChainMatch {
        var chainMatch = Envoy_Config_Listener_V3_FilterChainMatch()
        chainMatch.destinationPort = Google_Protobuf_UInt32Value(port)
        chainMatch.prefixRanges = (match?.destinationSubnets ?? []).map(cidrRange)
        return chainMatch
    }

    /// `10.0.0.0/8` → prefix 10.0.0.0, length 8; a bare address is a host prefix (/32, /128).
    static func cidrRange(_ subnet: String) -> Envoy_Config_Core_V3_CidrRange {
        var range = Envoy_Config_Core_V3_CidrRange()
        let parts = subnet.split(separator: "/", maxSplits: 1)
        range.addressPrefix = String(parts[0])
        // Validation admits only addresses and CIDRs whose length fits the family.
        let bits = parts.count > 1 ? UInt32(parts[1]) : nil
        range.prefixLen = Google_Protobuf_UInt32Value(bits ?? (subnet.contains(":") ? 128 : 32))
        return range
    }

    private static func tcpProxy(
        _ destinations: [RouteDestination], namespace: String, port: UInt32, view: ProxyView,
        statPrefix: String
    ) -> Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy? {
        var weighted: [(cluster: String, weight: UInt32)] = []
        let single = destinations.count == 1
        for destination in destinations {
            let weight = UInt32(clamping: destination.weight ?? (single ? 100 : 0))
            guard weight > 0,
                case .success(let cluster) = DestinationResolver.cluster(
                    for: destination.destination, namespace: namespace, listenerPort: port, in: view)
            else { continue }
            if let existing = weighted.firstIndex(where: { $0.cluster == cluster }) {
                let (sum, overflow) = weighted[existing].weight.addingReportingOverflow(weight)
                weighted[existing].weight = overflow ? .max : sum
            } else {
                weighted.append((cluster, weight))
            }
        }
        guard !weighted.isEmpty else { return nil }
        var proxy = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy()
        proxy.statPrefix = statPrefix
        if weighted.count == 1 {
            proxy.cluster = weighted[0].cluster
        } else {
            let weights = WeightScaling.fitted([weighted.map(\.weight)])[0]
            var clusters = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy.WeightedCluster()
            clusters.clusters = zip(weighted, weights).map { item, fitted in
                var weight = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy.WeightedCluster.ClusterWeight()
                weight.name = item.cluster
                weight.weight = fitted
                return weight
            }
            proxy.weightedClusters = clusters
        }
        return proxy
    }
}

import EnvoyAPI

/// `virtualInbound`'s listener filters, worked out from its chains as istiod does
/// (`populateListenerFilters`): original_dst always; the TLS inspector when some chain matches
/// `tls`, the HTTP inspector when some chain matches plaintext HTTP ALPN — each skipped, by
/// `filter_disabled`, on the destination ports none of whose chains need it, so a server-first
/// protocol on a plaintext port is never held waiting for a ClientHello or a request line.
enum InboundListenerFilters {
    static let httpInspectorName = "envoy.filters.listener.http_inspector"

    static func filters(for chains: [Envoy_Config_Listener_V3_FilterChain]) -> [Envoy_Config_Listener_V3_ListenerFilter] {
        var filters = [EnvoyFilters.originalDestination()]
        let needsTLS = { (chain: Envoy_Config_Listener_V3_FilterChain) in chain.filterChainMatch.transportProtocol == InboundChains.tls }
        let needsHTTP = { (chain: Envoy_Config_Listener_V3_FilterChain) in
            chain.filterChainMatch.applicationProtocols.contains { InboundTLS.plaintextHTTPALPN.contains($0) }
        }
        if chains.contains(where: needsTLS) {
            var inspector = EnvoyFilters.tlsInspector()
            if let disabled = disabled(chains, needs: needsTLS) { inspector.filterDisabled = disabled }
            filters.append(inspector)
        }
        if chains.contains(where: needsHTTP) {
            var inspector = EnvoyFilters.listenerFilter(httpInspectorName, Envoy_Extensions_Filters_Listener_HttpInspector_V3_HttpInspector())
            if let disabled = disabled(chains, needs: needsHTTP) { inspector.filterDisabled = disabled }
            filters.append(inspector)
        }
        return filters
    }

    /// When the filter is skipped: when the port-less chains need it, on the ports none of
    /// whose chains do; otherwise everywhere but the ports some chain of which does. nil: never.
    private static func disabled(
        _ chains: [Envoy_Config_Listener_V3_FilterChain], needs: (Envoy_Config_Listener_V3_FilterChain) -> Bool
    ) -> Envoy_Config_Listener_V3_ListenerFilterChainMatchPredicate? {
        var byPort: [UInt32: Bool] = [:]
        var portless = false
        for chain in chains {
            if chain.filterChainMatch.hasDestinationPort {
                let port = chain.filterChainMatch.destinationPort.value
                byPort[port] = (byPort[port] ?? false) || needs(chain)
            } else {
                portless = portless || needs(chain)
            }
        }
        if portless {
            let skipped = byPort.filter { !$0.value }.keys.sorted()
            return skipped.isEmpty ? nil : anyOf(skipped)
        }
        var predicate = Envoy_Config_Listener_V3_ListenerFilterChainMatchPredicate()
        predicate.notMatch = anyOf(byPort.filter(\.value).keys.sorted())
        return predicate
    }

    /// Destination port in `ports` (`[p, p+1)` each).
    private static func anyOf(_ ports: [UInt32]) -> Envoy_Config_Listener_V3_ListenerFilterChainMatchPredicate {
        let rules = ports.map { port in
            var range = Envoy_Type_V3_Int32Range()
            range.start = Int32(clamping: port)
            range.end = Int32(clamping: UInt64(port) + 1)
            var rule = Envoy_Config_Listener_V3_ListenerFilterChainMatchPredicate()
            rule.destinationPortRange = range
            return rule
        }
        if rules.count == 1 { return rules[0] }
        var predicate = Envoy_Config_Listener_V3_ListenerFilterChainMatchPredicate()
        predicate.orMatch.rules = rules
        return predicate
    }
}

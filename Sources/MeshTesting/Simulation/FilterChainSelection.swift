import EnvoyAPI

/// Envoy's filter chain matching (`FilterChainManagerImpl`), over the criteria meshd sets, in
/// Envoy's order: destination port, destination IP, server name (SNI), transport protocol
/// then application protocols (ALPN: the first value the connection offers that some chain
/// names, else the chains naming none). At each step the chains that name the connection's value win (for
/// addresses the longest matching prefix, for server names an exact name before the longest
/// wildcard), else those that leave the criterion unset; Envoy never backtracks, so when
/// neither exists the connection gets the default chain, or none.
public enum FilterChainSelection {
    /// What a connection offers the matcher.
    public struct Offer: Sendable, Hashable {
        public var address: String
        public var port: UInt32
        /// SNI, when the TLS inspector read one.
        public var serverName: String?
        /// `tls` or `raw_buffer`.
        public var transportProtocol: String
        /// ALPN from the ClientHello, or what the HTTP inspector saw (`http/1.1`).
        public var applicationProtocols: [String]

        public init(
            address: String, port: UInt32, serverName: String? = nil, transportProtocol: String = "raw_buffer",
            applicationProtocols: [String] = []
        ) {
            self.address = address
            self.port = port
            self.serverName = serverName
            self.transportProtocol = transportProtocol
            self.applicationProtocols = applicationProtocols
        }
    }

    /// The chain of `listener` that takes `offer`, else its default chain, else nil.
    public static func select(in listener: Envoy_Config_Listener_V3_Listener, _ offer: Offer) -> Envoy_Config_Listener_V3_FilterChain? {
        var candidates = listener.filterChains
        candidates = narrow(
            candidates, matching: { $0.hasDestinationPort && $0.destinationPort.value == offer.port },
            unset: { !$0.hasDestinationPort })
        let longest = candidates.flatMap { $0.filterChainMatch.prefixRanges }
            .filter { contains($0, offer.address) }.map { $0.prefixLen.value }.max()
        candidates = narrow(
            candidates,
            matching: { match in
                longest.map { length in match.prefixRanges.contains { $0.prefixLen.value == length && contains($0, offer.address) } } ?? false
            }, unset: { $0.prefixRanges.isEmpty })
        let name = offer.serverName?.lowercased()
        let wildcard = candidates.flatMap { $0.filterChainMatch.serverNames }
            .filter { $0.hasPrefix("*") && name?.hasSuffix($0.dropFirst()) == true }.max { $0.count < $1.count }
        candidates = narrow(
            candidates,
            matching: { match in
                name.map { match.serverNames.map { $0.lowercased() }.contains($0) } ?? false
            }, unset: { $0.serverNames.isEmpty },
            orElse: { match in
                wildcard.map { match.serverNames.contains($0) } ?? false
            })
        candidates = narrow(
            candidates, matching: { $0.transportProtocol == offer.transportProtocol && !$0.transportProtocol.isEmpty },
            unset: { $0.transportProtocol.isEmpty })
        let named = offer.applicationProtocols.first { value in candidates.contains { $0.filterChainMatch.applicationProtocols.contains(value) } }
        candidates = narrow(
            candidates, matching: { match in named.map { match.applicationProtocols.contains($0) } ?? false },
            unset: { $0.applicationProtocols.isEmpty })
        if let chosen = candidates.first { return chosen }
        return listener.hasDefaultFilterChain ? listener.defaultFilterChain : nil
    }

    /// Chains whose match names the value; else (optionally) the next-best named form; else
    /// those leaving the criterion unset.
    private static func narrow(
        _ chains: [Envoy_Config_Listener_V3_FilterChain],
        matching: (Envoy_Config_Listener_V3_FilterChainMatch) -> Bool,
        unset: (Envoy_Config_Listener_V3_FilterChainMatch) -> Bool,
        orElse: ((Envoy_Config_Listener_V3_FilterChainMatch) -> Bool)? = nil
    ) -> [Envoy_Config_Listener_V3_FilterChain] {
        let exact = chains.filter { matching($0.filterChainMatch) }
        if !exact.isEmpty { return exact }
        if let orElse {
            let next = chains.filter { orElse($0.filterChainMatch) }
            if !next.isEmpty { return next }
        }
        return chains.filter { unset($0.filterChainMatch) }
    }

    /// Whether the IPv4 `address` lies in `range` (IPv6 ranges match only as /0).
    static func contains(_ range: Envoy_Config_Core_V3_CidrRange, _ address: String) -> Bool {
        let length = range.prefixLen.value
        if length == 0 { return true }
        guard length <= 32, let prefix = ipv4(range.addressPrefix), let value = ipv4(address) else { return false }
        let mask: UInt32 = length == 32 ? .max : ~(UInt32.max >> length)
        return prefix & mask == value & mask
    }

    private static func ipv4(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        guard parts.count == 4, text.split(separator: ".", omittingEmptySubsequences: false).count == 4 else { return nil }
        return parts.reduce(0) { $0 << 8 | UInt32($1) }
    }
}

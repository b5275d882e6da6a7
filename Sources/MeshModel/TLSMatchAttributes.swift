import MeshCommon

/// A `tls[]` rule's match (Istio's `TLSMatchAttributes`): the SNI of an unterminated TLS
/// connection, plus the conditions of a `tcp[]` match.
public struct TLSMatchAttributes: Sendable, Hashable {
    /// Server names (SNI) the connection must ask for; never empty once validated. Each lies
    /// within one of the VirtualService's hosts.
    public var sniHosts: [String]
    /// The connection conditions shared with `tcp[]`.
    public var connection: L4MatchAttributes

    public init(sniHosts: [String], connection: L4MatchAttributes = L4MatchAttributes()) {
        self.sniHosts = sniHosts
        self.connection = connection
    }
}

extension TLSMatchAttributes {
    /// Istio's rules: at least one SNI host; each a valid (wildcard) domain that is a subset of
    /// one of `virtualServiceHosts` (an IP address is let through, as Istio lets it, unchecked).
    init(reading r: FieldReader, virtualServiceHosts: [String]) throws(MeshModelError) {
        connection = try L4MatchAttributes(reading: r)
        let readers = try r["sniHosts"].list()
        sniHosts = try r["sniHosts"].strings()
        guard !sniHosts.isEmpty else { throw r["sniHosts"].error("TLS match must have at least one SNI host") }
        for (reader, host) in zip(readers, sniHosts) {
            if IPAddressSyntax.isIPAddress(host) { continue }
            guard NameRules.isHost(host) else { throw reader.error("invalid SNI host \"\(host)\"") }
            guard virtualServiceHosts.contains(where: { HostName.matches(pattern: $0, host: host) }) else {
                throw reader.error(
                    "SNI host \"\(host)\" is not a compatible subset of any of the virtual service hosts: [\(virtualServiceHosts.joined(separator: ", "))]"
                )
            }
        }
    }
}

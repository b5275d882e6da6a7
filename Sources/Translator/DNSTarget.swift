import Discovery
import MeshModel

/// The name a proxyless client resolves itself for a cluster of a ServiceEntry with a DNS
/// resolution, or nil when the cluster's endpoints go over EDS.
///
/// gRPC's xDS client resolves names only in LOGICAL_DNS clusters (gRFC A37; it NACKs
/// STRICT_DNS, and an EDS endpoint must be an IP address). So a DNS or DNS_ROUND_ROBIN entry
/// whose endpoints are all IP addresses keeps EDS; otherwise the cluster is LOGICAL_DNS for the
/// first endpoint's name — or, for an entry with no endpoints, for the host itself, as Istio
/// resolves it. DNS with several names cannot be expressed for gRPC: the apply answer says so.
public struct DNSTarget: Sendable, Hashable {
    /// The name to resolve.
    public var host: String
    /// The port to connect to.
    public var port: UInt32

    /// The target for `port` of `service` whose (subset-selected) endpoints are `endpoints`;
    /// `serviceHasEndpoints` tells an entry without endpoints from a subset that selects none.
    public static func of(_ service: Service, port: Service.Port, endpoints: [Endpoint], serviceHasEndpoints: Bool) -> DNSTarget? {
        guard service.resolution == .dns || service.resolution == .dnsRoundRobin else { return nil }
        guard serviceHasEndpoints else {
            // A wildcard host names nothing to resolve (validation refuses it on write).
            guard !service.host.contains("*") else { return nil }
            return DNSTarget(host: service.host, port: port.targetPort ?? port.number)
        }
        guard let named = endpoints.first(where: { !IPAddressSyntax.isIPAddress($0.address) && !$0.address.hasPrefix("unix://") }) else {
            return nil
        }
        return DNSTarget(host: named.address, port: named.port)
    }
}

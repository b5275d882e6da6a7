import Discovery
import MeshCommon
import MeshModel

/// How a cluster finds its endpoints, per dialect, from its ServiceEntry's `resolution`.
///
/// Envoy as istiod configures it: STATIC → EDS, DNS → STRICT_DNS over every endpoint name,
/// DNS_ROUND_ROBIN → LOGICAL_DNS, NONE → ORIGINAL_DST (traffic goes where the app dialed).
///
/// gRPC's xDS client resolves names only in LOGICAL_DNS clusters (gRFC A37; it NACKs
/// STRICT_DNS, and an EDS endpoint must be an IP address) and has no original destination. So
/// for it a DNS or DNS_ROUND_ROBIN entry whose endpoints are all IP addresses keeps EDS;
/// otherwise the cluster is LOGICAL_DNS for the first endpoint's name — or, for an entry with
/// no endpoints, for the host itself, as Istio resolves it; NONE is served like STATIC. The
/// apply answer says so (`ClientSupport`).
public enum ClusterDiscovery: Sendable, Hashable {
    /// Endpoints over EDS, in an assignment named like the cluster.
    case eds
    /// One name the client resolves itself.
    case logicalDNS(DNSTarget)
    /// Every name resolved, all addresses used (Envoy only).
    case strictDNS([DNSTarget])
    /// The destination the application dialed (Envoy only).
    case originalDestination

    /// A name (or address) and port to resolve.
    public struct DNSTarget: Sendable, Hashable {
        public var host: String
        public var port: UInt32
    }

    /// The discovery for `port` of `service` whose (subset-selected) endpoints are `endpoints`,
    /// for a proxy reading `dialect`; `serviceHasEndpoints` tells an entry without endpoints
    /// from a subset that selects none.
    public static func of(
        _ service: Service, port: Service.Port, endpoints: [Endpoint], serviceHasEndpoints: Bool,
        dialect: ProxyDialect
    ) -> ClusterDiscovery {
        let ownHost = DNSTarget(host: service.host, port: port.targetPort ?? port.number)
        // A wildcard host names nothing to resolve (validation refuses it on write).
        let hostTarget = service.host.contains("*") ? [] : [ownHost]
        let targets = serviceHasEndpoints ? endpoints.map { DNSTarget(host: $0.address, port: $0.port) } : hostTarget
        switch dialect {
        case .envoy:
            switch service.resolution {
            case .static: return .eds
            case .none: return .originalDestination
            case .dnsRoundRobin: return targets.first.map { .logicalDNS($0) } ?? .eds
            case .dns: return targets.isEmpty ? .eds : .strictDNS(targets)
            }
        case .grpc:
            break
        }
        guard service.resolution == .dns || service.resolution == .dnsRoundRobin else { return .eds }
        guard let named = targets.first(where: { !IPAddressSyntax.isIPAddress($0.host) && !$0.host.hasPrefix("unix://") }) else {
            return .eds
        }
        return .logicalDNS(named)
    }
}

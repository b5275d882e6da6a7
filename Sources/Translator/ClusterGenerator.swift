import Discovery
import EnvoyAPI
import SwiftProtobuf

/// CDS: for every service port an EDS cluster `outbound|PORT||HOST`, plus one
/// `outbound|PORT|SUBSET|HOST` per subset of the host's DestinationRule. A DestinationRule with
/// `trafficPolicy.tls.mode: ISTIO_MUTUAL` adds mesh mTLS (see `UpstreamTLS`).
public struct ClusterGenerator: HostScopedGenerator {
    /// The SPIFFE trust domain expected in destination certificates.
    public let trustDomain: String

    public init(trustDomain: String = "cluster.local") {
        self.trustDomain = trustDomain
    }

    public var typeURL: String { TypeURL.cluster }

    public func generate(for view: ProxyView, in push: PushContext) -> [XDSResource] {
        generate(for: view, in: push, services: view.services)
    }

    /// The clusters of `hosts` only: mesh mTLS clusters name their endpoints' identities, so an
    /// endpoint change can change them.
    public func generate(for view: ProxyView, in push: PushContext, hosts: Set<String>) -> [XDSResource] {
        generate(for: view, in: push, services: hosts.sorted().compactMap { view.service($0) })
    }

    private func generate(for view: ProxyView, in push: PushContext, services: [Service]) -> [XDSResource] {
        var resources: [XDSResource] = []
        for service in services {
            let rule = view.destinationRule(service.host)
            let mutual = rule?.spec.trafficPolicy?["tls"]?["mode"]?.stringValue == "ISTIO_MUTUAL"
            for port in service.ports {
                let all = push.registry.endpoints(host: service.host, port: port.number)
                resources.append(cluster(ClusterName.outbound(port: port.number, host: service.host),
                                         tls: mutual ? UpstreamTLS.context(for: all, trustDomain: trustDomain) : nil))
                for subset in rule?.spec.subsets ?? [] {
                    let selected = all.filter { $0.matches(subset.labels) }
                    resources.append(cluster(ClusterName.outbound(port: port.number, subset: subset.name, host: service.host),
                                             tls: mutual ? UpstreamTLS.context(for: selected, trustDomain: trustDomain) : nil))
                }
            }
        }
        return resources.sorted { $0.name < $1.name }
    }

    private func cluster(_ name: String, tls: Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext?) -> XDSResource {
        var cluster = Envoy_Config_Cluster_V3_Cluster()
        cluster.name = name
        cluster.type = .eds
        cluster.edsClusterConfig.edsConfig = .adsV3
        // The EDS name is the cluster name: one ClusterLoadAssignment per cluster, subset-filtered.
        cluster.edsClusterConfig.serviceName = name
        cluster.connectTimeout = Google_Protobuf_Duration(seconds: 10)
        cluster.lbPolicy = .roundRobin
        if let tls {
            var socket = Envoy_Config_Core_V3_TransportSocket()
            socket.name = UpstreamTLS.transportSocketName
            socket.typedConfig = AnyPacking.pack(tls)
            cluster.transportSocket = socket
        }
        return XDSResource(name: name, message: cluster)
    }
}

extension Envoy_Config_Core_V3_ConfigSource {
    /// "Over the same ADS stream, v3 resources."
    static var adsV3: Self {
        var source = Self()
        source.ads = Envoy_Config_Core_V3_AggregatedConfigSource()
        source.resourceApiVersion = .v3
        return source
    }
}

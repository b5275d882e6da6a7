/// CDS for Envoy gateways: the outbound clusters every Envoy gets (`ClusterGenerator` in the
/// Envoy dialect with automatic mTLS, as istiod shares its cluster building between sidecars and
/// gateways), `BlackHoleCluster`, and `prometheus_stats` for the stats listener. No passthrough
/// clusters: a gateway has no original-destination listeners.
struct GatewayClusterGenerator: HostScopedGenerator {
    /// The shared outbound generator, in the Envoy dialect.
    let outbound: ClusterGenerator

    var typeURL: String { TypeURL.cluster }

    func generate(for view: ProxyView, in push: PushContext) -> [XDSResource] {
        let local = [EnvoyLocalClusters.blackHole(), EnvoyLocalClusters.loopback(EnvoyNames.prometheusStatsCluster, port: EnvoyNames.adminPort)]
            .map { XDSResource(name: $0.name, message: $0) }
        return (outbound.generate(for: view, in: push) + local).sorted { $0.name < $1.name }
    }

    /// Only outbound clusters name endpoint identities.
    func generate(for view: ProxyView, in push: PushContext, hosts: Set<String>) -> [XDSResource] {
        outbound.generate(for: view, in: push, hosts: hosts)
    }
}

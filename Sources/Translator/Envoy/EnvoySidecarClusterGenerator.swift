/// CDS for Envoy sidecars: the outbound clusters every kind gets (so a sidecar's EDS names are
/// the same as a gRPC client's), plus the sidecar's passthrough, black-hole and stats clusters
/// (`EnvoyLocalClusters`) and one `inbound|PORT||` cluster per port of its workload.
struct EnvoySidecarClusterGenerator: HostScopedGenerator {
    /// The shared outbound generator, in the Envoy dialect.
    let outbound: ClusterGenerator

    var typeURL: String { TypeURL.cluster }

    func generate(for view: ProxyView, in push: PushContext) -> [XDSResource] {
        let local = (EnvoyLocalClusters.all() + EnvoyInbound.clusters(view.workloadPorts)).map { XDSResource(name: $0.name, message: $0) }
        return (outbound.generate(for: view, in: push) + local).sorted { $0.name < $1.name }
    }

    /// Only outbound clusters name endpoint identities; the sidecar's own never change with endpoints.
    func generate(for view: ProxyView, in push: PushContext, hosts: Set<String>) -> [XDSResource] {
        outbound.generate(for: view, in: push, hosts: hosts)
    }
}

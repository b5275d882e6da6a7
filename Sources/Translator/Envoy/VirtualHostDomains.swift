import MeshCommon
import MeshModel

/// The domains of an Envoy virtual host for one service port, as istiod writes them: the
/// host, every shorter name that resolves to it from the proxy's namespace, and the service's
/// virtual IPs — each bare and with `:PORT` (clients send either as the authority).
enum VirtualHostDomains {
    /// For `reviews.default.svc.cluster.local` on 9080 seen from `default`: the FQDN,
    /// `reviews.default.svc`, `reviews.default` and `reviews` (the last only from the
    /// service's own namespace: elsewhere `reviews` means another service), each also with
    /// `:9080`. Hosts outside `*.svc.DOMAIN` (ServiceEntry hosts such as `api.example.com`) only
    /// as written.
    static func domains(
        host: String, port: UInt32, addresses: [String], proxyNamespace: String,
        domainSuffix: String = MeshDefaults.clusterDomain
    ) -> [String] {
        var names = [host]
        let kubernetesSuffix = ".svc.\(domainSuffix)"
        if host.hasSuffix(kubernetesSuffix), !host.hasPrefix("*") {
            let serviceAndNamespace = host.dropLast(kubernetesSuffix.count)
            if let dot = serviceAndNamespace.lastIndex(of: "."), dot != serviceAndNamespace.startIndex {
                let name = serviceAndNamespace[..<dot]
                let namespace = serviceAndNamespace[serviceAndNamespace.index(after: dot)...]
                names.append("\(serviceAndNamespace).svc")
                names.append(String(serviceAndNamespace))
                if namespace == proxyNamespace { names.append(String(name)) }
            }
        }
        names += addresses.filter(IPAddressSyntax.isIPAddress)
        return names.flatMap { [$0, "\($0):\(port)"] }
    }
}

import MeshModel

/// Which hosts of a VirtualService a Gateway server exposes, as istiod's gateway builder works
/// them out: the server's hosts that admit the VirtualService's namespace (`ns/host` only for a
/// VirtualService in `ns`, `./host` only in the Gateway's namespace, `*/host` and bare hosts for
/// any), intersected name by name with the VirtualService's hosts (short names qualified in its
/// namespace) — the narrower of two names that overlap: a server `*.example.com` and a
/// VirtualService `a.example.com` give `a.example.com`; a server `a.example.com` and a
/// VirtualService `*` give `a.example.com`.
enum GatewayHosts {
    /// The intersection, lowercased, in the server's host order, without repeats.
    static func exposed(by server: MergedGateway.Server, of entry: PushContext.VirtualServiceEntry) -> [String] {
        let namespace = entry.key.namespace
        let serverHosts = server.spec.hosts
            .filter { host in
                switch host.namespace {
                case .any: true
                case .current: namespace == server.gateway.namespace
                case .named(let name): namespace == name
                }
            }
            .map { $0.dnsName.lowercased() }
        let routeHosts = entry.spec.hosts.map { HostName.resolve($0, namespace: namespace).lowercased() }
        var result: [String] = []
        for serverHost in serverHosts {
            for routeHost in routeHosts {
                let narrower: String? =
                    isSubset(serverHost, of: routeHost) ? serverHost : isSubset(routeHost, of: serverHost) ? routeHost : nil
                if let narrower, !result.contains(narrower) { result.append(narrower) }
            }
        }
        return result
    }

    /// Whether every name `a` matches is matched by `b` (`*`, `*.suffix` or an exact name).
    static func isSubset(_ a: String, of b: String) -> Bool {
        if b == "*" { return true }
        if b.hasPrefix("*.") { return a.hasSuffix(b.dropFirst()) }
        return a == b
    }
}

import MeshModel

/// IST0109: VirtualServices bound to the mesh (no `gateways`, or `mesh` among them) that claim
/// the same host for some namespace. Istio's scoping: each VirtualService's host counts in
/// the namespaces it is exported to (all, when `exportTo` is empty or `*`); two conflict when
/// those scopes meet. In one namespace meshd uses the oldest and ignores the others for the
/// host; across namespaces each proxy takes one by the namespace-aware lookup — either way the
/// other rules are silently unused for someone. Hosts are compared fully qualified and exactly
/// (a wildcard host is a different claim: the exact one wins).
enum MeshGatewayHostsAnalyzer {
    private struct Claim {
        var key: ConfigKey
        var createdRevision: Int64
        var hostIndex: Int
        /// Namespaces it is exported to; nil for all.
        var scope: Set<String>?
    }

    @Sendable static func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var claims: [String: [Claim]] = [:]
        for (key, created, spec) in input.virtualServices where RouteMatchTranslation.reachesMesh(spec) {
            let scope = scope(of: spec.exportTo, owner: key.namespace)
            var seen: Set<String> = []
            for (index, raw) in spec.hosts.enumerated() {
                let host = HostName.resolve(raw, namespace: key.namespace)
                guard seen.insert(host).inserted else { continue }
                claims[host, default: []].append(Claim(key: key, createdRevision: created, hostIndex: index, scope: scope))
            }
        }
        var messages: [AnalysisMessage] = []
        for host in claims.keys.sorted() {
            let list = claims[host] ?? []
            guard list.count > 1 else { continue }
            for claim in list {
                let rivals = list.filter { $0.key != claim.key && overlaps($0.scope, claim.scope) }
                guard !rivals.isEmpty else { continue }
                let names = ([claim] + rivals).map { "\($0.key.namespace)/\($0.key.name)" }.sorted().joined(separator: ",")
                var text =
                    "The VirtualServices \(names) associated with mesh gateway define the same host \(host) which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource."
                if let older = rivals.first(where: {
                    $0.key.namespace == claim.key.namespace && ($0.createdRevision, $0.key) < (claim.createdRevision, claim.key)
                }) {
                    text += " meshd ignores this one for the host: \(older.key) in the same namespace is older."
                }
                messages.append(
                    AnalysisMessage(
                        .conflictingMeshGatewayVirtualServiceHosts, claim.key,
                        field: "spec.hosts[\(claim.hostIndex)]", text))
            }
        }
        return messages
    }

    /// The namespaces `exportTo` exports to (`.` is the owner's); nil for every namespace.
    private static func scope(of exportTo: [String], owner: String) -> Set<String>? {
        if exportTo.isEmpty || exportTo.contains("*") { return nil }
        return Set(exportTo.map { $0 == "." ? owner : $0 })
    }

    private static func overlaps(_ a: Set<String>?, _ b: Set<String>?) -> Bool {
        guard let a, let b else { return true }
        return !a.isDisjoint(with: b)
    }
}

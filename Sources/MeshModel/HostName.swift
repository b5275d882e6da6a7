import MeshCommon

/// Istio's short-name expansion for hosts in routing rules.
public enum HostName {
    /// Expands a short name the way Istio does: a name without dots is a Kubernetes service in
    /// `namespace` (`reviews` in `default` → `reviews.default.svc.cluster.local`); a name with a
    /// dot is taken as already qualified and kept as given; `*` is kept.
    ///
    /// Istio documents that relying on short names is fragile across namespaces; meshd applies
    /// the same rule so the same YAML routes the same way.
    public static func resolve(_ host: String, namespace: String, domainSuffix: String = MeshDefaults.clusterDomain) -> String {
        if host == "*" || host.contains(".") { return host }
        return "\(host).\(namespace).svc.\(domainSuffix)"
    }

    /// Whether `pattern` names `host`, as Istio matches hosts: `*` names every host,
    /// `*.example.com` (or `*example.com`) every host ending in what follows the `*`, anything
    /// else only itself. DNS names compare without regard to case.
    public static func matches(pattern: String, host: String) -> Bool {
        if pattern == "*" { return true }
        let pattern = pattern.lowercased()
        let host = host.lowercased()
        if pattern.hasPrefix("*") { return host.hasSuffix(pattern.dropFirst()) }
        return pattern == host
    }
}

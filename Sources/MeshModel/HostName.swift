/// Istio's short-name expansion for hosts in routing rules.
public enum HostName {
    /// Expands a short name the way Istio does: a name without dots is a Kubernetes service in
    /// `namespace` (`reviews` in `default` → `reviews.default.svc.cluster.local`); a name with a
    /// dot is taken as already qualified and kept as given; `*` is kept.
    ///
    /// Istio documents that relying on short names is fragile across namespaces; meshd applies
    /// the same rule so the same YAML routes the same way.
    public static func resolve(_ host: String, namespace: String, domainSuffix: String = "cluster.local") -> String {
        if host == "*" || host.contains(".") { return host }
        return "\(host).\(namespace).svc.\(domainSuffix)"
    }
}

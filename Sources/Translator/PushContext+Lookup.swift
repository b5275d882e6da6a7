import MeshModel

/// A routing rule that may exist once per namespace for a host and is chosen per proxy by the
/// namespace-aware lookup.
public protocol NamespacedRule: Sendable {
    /// The rule's key (its namespace is what the lookup orders by).
    var key: ConfigKey { get }
    /// Its `exportTo`.
    var exportTo: [String] { get }
}

extension PushContext.VirtualServiceEntry: NamespacedRule {
    public var exportTo: [String] { spec.exportTo }
}

extension PushContext.DestinationRuleEntry: NamespacedRule {
    public var exportTo: [String] { spec.exportTo }
}

extension PushContext {
    /// The view key of `proxy` at this context: its kind, namespace and the Sidecar that
    /// applies to it (workload-selected, else the namespace default, else the root default; none
    /// for a gateway), and a gateway's Gateways.
    public func viewKey(for proxy: Proxy) -> ViewKey {
        let sidecar =
            GeneratorTable.takesSidecarResources(proxy.kind)
            ? sidecars.select(namespace: proxy.namespace, labels: proxy.labels, rootNamespace: settings.rootNamespace) : nil
        let labels = sourceLabelKeys.isEmpty ? [:] : proxy.labels.filter { sourceLabelKeys.contains($0.key) }
        var priorityLabels: [String: String] = [:]
        if !failoverPriorityLabelKeys.isEmpty {
            priorityLabels = proxy.topologyLabels.filter { failoverPriorityLabelKeys.contains($0.key) }
        }
        // Only a server's listeners depend on security policies (a proxyless server's inbound
        // listeners, every Envoy sidecar's virtualInbound, a gateway's listeners), so proxyless
        // clients keep sharing.
        let serves = !proxy.inbound.isEmpty || GeneratorTable.takesWorkloadPorts(proxy.kind) || GeneratorTable.takesGateways(proxy.kind)
        let policyKeys = serves ? policySelectorLabelKeys : []
        return ViewKey(
            kind: proxy.kind, namespace: proxy.namespace, sidecar: sidecar?.key, sourceLabels: labels,
            locality: isLocalityAware ? proxy.locality : nil, priorityLabels: priorityLabels,
            inbound: proxy.inbound.sorted(), policyLabels: policyKeys.isEmpty ? [:] : proxy.labels.filter { policyKeys.contains($0.key) },
            workloadPorts: InboundPort.ports(of: proxy, in: registry),
            gateways: GeneratorTable.takesGateways(proxy.kind) ? gateways.selecting(proxy.labels) : [],
            readsCredentials: GeneratorTable.takesGateways(proxy.kind) && proxy.isAuthenticated)
    }

    /// The VirtualService a proxy in `namespace` uses for `host` (declared by a service in
    /// `serviceNamespace`): among those exported to `namespace`, the one in `namespace`, else
    /// the service's namespace, else the root namespace, else the oldest in any other namespace
    /// (Istio applies an exported VirtualService from any namespace).
    /// Only VirtualServices that apply to mesh proxies count (`gateways` empty or naming `mesh`):
    /// one bound to gateways alone never reaches a sidecar or proxyless client.
    ///
    /// A VirtualService naming the host itself wins; else the most specific wildcard host that
    /// matches it (`*.example.com` before `*`), as Istio picks among wildcard rules.
    public func virtualService(for host: String, serviceNamespace: String?, from namespace: String) -> VirtualServiceEntry? {
        func chosen(_ name: String) -> VirtualServiceEntry? {
            Self.choose(
                virtualServices[name] ?? [], serviceNamespace: serviceNamespace, viewer: namespace,
                root: settings.rootNamespace, anyNamespace: true)
        }
        // A Gateway API route of the client's own namespace comes first (istiod's consumer override).
        if let own = routeVirtualServices[host]?.first(where: {
            $0.key.namespace == namespace && ExportTo.admits($0.spec.exportTo, owner: $0.key.namespace, viewer: namespace)
        }) {
            return own
        }
        if let exact = chosen(host) { return exact }
        for pattern in wildcardVirtualServiceHosts where HostName.matches(pattern: pattern, host: host) {
            if let match = chosen(pattern) { return match }
        }
        return nil
    }

    /// The DestinationRule a proxy in `namespace` uses for `host`: among those exported to
    /// `namespace`, the one in `namespace`, else the service's namespace, else the root
    /// namespace (Istio's `getDestinationRule`; a rule in a fourth namespace never applies).
    public func destinationRule(for host: String, serviceNamespace: String?, from namespace: String) -> DestinationRuleEntry? {
        Self.choose(
            destinationRules[host] ?? [], serviceNamespace: serviceNamespace, viewer: namespace,
            root: settings.rootNamespace, anyNamespace: false)
    }

    /// `candidates` hold at most one rule per namespace, oldest first.
    private static func choose<Rule: NamespacedRule>(
        _ candidates: [Rule], serviceNamespace: String?, viewer: String,
        root: String, anyNamespace: Bool
    ) -> Rule? {
        guard !candidates.isEmpty else { return nil }
        let visible = candidates.filter { ExportTo.admits($0.exportTo, owner: $0.key.namespace, viewer: viewer) }
        for namespace in [viewer, serviceNamespace, root].compactMap({ $0 }) {
            if let rule = visible.first(where: { $0.key.namespace == namespace }) { return rule }
        }
        return anyNamespace ? visible.first : nil
    }
}

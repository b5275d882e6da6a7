import MeshModel

extension Telemetry: ScopedPolicy {}

/// The Telemetries of one PushContext. Indexed as the security policies are, but looked up as
/// istiod's `Telemetries.applicableTelemetries`: use `applicable(namespace:labels:rootNamespace:)`,
/// not the security policies' `policies(namespace:labels:rootNamespace:)`, whose scope differs
/// (one namespace-wide Telemetry per level, selectors only in the proxy's own namespace).
public typealias TelemetryIndex = ScopedPolicyIndex<Telemetry>

extension ScopedPolicyIndex where Spec == Telemetry {
    /// The Telemetries that apply to a proxy in `namespace` with `labels`, least specific first
    /// (a later one overrides an earlier one):
    ///
    /// 1. the root namespace's oldest Telemetry without a selector (mesh-wide);
    /// 2. `namespace`'s oldest Telemetry without a selector, when it is not the root namespace;
    /// 3. every Telemetry of `namespace` whose `selector` `labels` carry, oldest first.
    ///
    /// A Telemetry with `targetRef(s)` applies to no proxy (meshd serves no Gateway API gateways
    /// or waypoints yet; warned on apply).
    public func applicable(namespace: String, labels: [String: String], rootNamespace: String) -> [Entry] {
        var result: [Entry] = []
        if let root = namespaceWide(rootNamespace) { result.append(root) }
        if namespace != rootNamespace, let own = namespaceWide(namespace) { result.append(own) }
        for entry in entries(in: namespace) {
            guard let selector = entry.spec.selector, !selector.isEmpty, !entry.spec.hasTargetRef else { continue }
            if selector.allSatisfy({ labels[$0.key] == $0.value }) { result.append(entry) }
        }
        return result
    }

    /// The oldest Telemetry of `namespace` without a selector or target: the namespace-wide one
    /// (istiod's `namespaceWideTelemetryConfig`; a younger one is ignored, and warned about).
    func namespaceWide(_ namespace: String) -> Entry? {
        entries(in: namespace).first { ($0.spec.selector ?? [:]).isEmpty && !$0.spec.hasTargetRef }
    }
}

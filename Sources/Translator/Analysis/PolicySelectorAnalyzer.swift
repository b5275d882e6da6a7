import MeshModel

/// IST0127: security policies that apply to no workload, with Istio's scoping.
///
/// An AuthorizationPolicy or RequestAuthentication in the root namespace with a selector looks in every namespace (one
/// without is mesh-wide and always applies); elsewhere its selector looks in its namespace, and
/// without one it needs some workload in its namespace. A PeerAuthentication's selector looks
/// in its namespace (Istio has no analyzer for it; meshd reports the same way, as a policy
/// meant for a workload that is not there is the same mistake). A DestinationRule's
/// `workloadSelector` is not honoured by meshd (apply warns), so it is not checked here.
enum PolicySelectorAnalyzer {
    @Sendable static func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let root = input.context.settings.rootNamespace
        var messages: [AnalysisMessage] = []
        let scoped =
            input.authorizationPolicies.map { ($0.key, $0.spec.selector) } + input.requestAuthentications.map { ($0.key, $0.spec.selector) }
        for (key, specSelector) in scoped {
            let selector = specSelector ?? [:]
            if !selector.isEmpty {
                let candidates = key.namespace == root ? input.workloads : input.workloads(in: key.namespace)
                if !candidates.contains(where: { $0.matches(selector) }) {
                    messages.append(noMatch(key, field: "spec.selector.matchLabels", selector))
                }
            } else if key.namespace != root, input.workloads(in: key.namespace).isEmpty {
                messages.append(noMatch(key, field: "metadata.namespace", selector))
            }
        }
        for (key, _, spec) in input.peerAuthentications {
            let selector = spec.selector ?? [:]
            guard !selector.isEmpty, !input.workloads(in: key.namespace).contains(where: { $0.matches(selector) }) else { continue }
            messages.append(noMatch(key, field: "spec.selector.matchLabels", selector))
        }
        return messages
    }

    private static func noMatch(_ key: ConfigKey, field: String, _ selector: [String: String]) -> AnalysisMessage {
        AnalysisMessage(
            .noMatchingWorkloadsFound, key, field: field,
            "No matching workloads for this resource with the following labels: \(selectorText(selector))")
    }
}

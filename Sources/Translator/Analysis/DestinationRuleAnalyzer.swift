import Discovery
import MeshModel

/// DestinationRules that cannot do what they say: a subset selecting no endpoint of its host
/// (IST0173: traffic routed to it fails with "no healthy upstream"), and a second rule for a
/// host in one namespace (MSH0002: meshd uses the oldest and ignores the rest, where Istio
/// would try to merge them).
enum DestinationRuleAnalyzer {
    @Sendable static func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        let push = input.context
        for (key, _, spec) in input.destinationRules {
            let host = HostName.resolve(spec.host, namespace: key.namespace)
            let winner = push.destinationRules[host]?.first { $0.key.namespace == key.namespace }
            if let winner, winner.key != key {
                messages.append(
                    AnalysisMessage(
                        .duplicateDestinationRule, key, field: "spec.host",
                        "\(winner.key) is older and also configures host \(host) in namespace \(key.namespace): meshd ignores this one. Merge them into a single resource."
                    ))
                continue
            }
            guard let service = push.registry.service(host), expectsEndpoints(service, push.registry) else { continue }
            let endpoints = (push.registry.endpoints[host] ?? [:]).values.joined()
            for (index, subset) in spec.subsets.enumerated() where !endpoints.contains(where: { $0.matches(subset.labels) }) {
                messages.append(
                    AnalysisMessage(
                        .destinationRuleSubsetNotSelectPods, key, field: "spec.subsets[\(index)].labels",
                        "The Subset \(subset.name) defined in the DestinationRule does not select any workload of \(host) (labels: \(selectorText(subset.labels))), which may lead to 503 UH (NoHealthyUpstream)."
                    ))
            }
        }
        return messages
    }

    /// Whether the service's traffic goes to registered endpoints, so a subset must select some:
    /// not for resolution NONE (the address dialed) nor a DNS service without endpoints (its
    /// own name is resolved).
    private static func expectsEndpoints(_ service: Service, _ registry: RegistrySnapshot) -> Bool {
        switch service.resolution {
        case .none: false
        case .static: true
        case .dns, .dnsRoundRobin: !(registry.endpoints[service.host] ?? [:]).values.allSatisfy(\.isEmpty)
        }
    }
}

import MeshModel

/// Cross-resource checks over a whole configuration, in the spirit of `istioctl analyze`: what
/// validation of one resource cannot see (a destination naming a subset no DestinationRule
/// defines, two VirtualServices claiming one host, a policy selecting nothing). Pure: the same
/// input gives the same messages, sorted by resource, field and code.
///
/// Every analyzer stays quiet on a sound configuration (the canary fixtures give no message):
/// a message is something an operator should act on.
public enum ConfigAnalysis {
    /// One check: reads the input, returns its findings.
    typealias Analyzer = @Sendable (AnalysisInput) -> [AnalysisMessage]

    /// The analyzers, one per concern; each lives in its own file.
    static let analyzers: [Analyzer] = [
        DestinationReferenceAnalyzer.analyze,
        MeshGatewayHostsAnalyzer.analyze,
        DestinationRuleAnalyzer.analyze,
        SidecarAnalyzer.analyze,
        PolicySelectorAnalyzer.analyze,
        GatewayAnalyzer.analyze,
        GatewayRouteAnalyzer.analyze,
        invalidResources,
    ]

    /// Every message for `input`; with `namespace`, only those about resources in it (the
    /// checks still see the whole configuration, as references cross namespaces).
    public static func analyze(_ input: AnalysisInput, namespace: String? = nil) -> [AnalysisMessage] {
        var messages = analyzers.flatMap { $0(input) }
        if let namespace { messages.removeAll { $0.resource.namespace != namespace } }
        var seen: Set<AnalysisMessage> = []
        return messages.filter { seen.insert($0).inserted }.sorted(by: AnalysisMessage.ordered)
    }

    /// IST0106 for each stored resource that fails today's validation: it is left out of every
    /// push until fixed or deleted.
    @Sendable static func invalidResources(_ input: AnalysisInput) -> [AnalysisMessage] {
        input.context.invalid.map { warning in
            AnalysisMessage(
                .schemaValidationError, warning.key, field: warning.field,
                "Schema validation error: \(warning.message)")
        }
    }
}

/// Every code `ConfigAnalysis` can report, with its level. Istio's own code where istioctl has the
/// check (same number, name and level, so CI thresholds and habits carry over); `MSH0001`… for
/// checks of meshd's model that Istio lacks. Codes are stable: never renumbered or reused.
/// docs/analyze.md describes each and how to fix it.
public enum AnalysisCode: String, Sendable, Hashable, CaseIterable {
    /// A resource names a host, subset, port or selector that does not exist.
    case referencedResourceNotFound = "IST0101"
    /// A stored resource fails today's validation and is left out of pushes.
    case schemaValidationError = "IST0106"
    /// Two VirtualServices bound to the mesh claim one host for one namespace.
    case conflictingMeshGatewayVirtualServiceHosts = "IST0109"
    /// Two Sidecars with selectors select one workload.
    case conflictingSidecarWorkloadSelectors = "IST0110"
    /// A namespace has more than one Sidecar without a selector.
    case multipleSidecarsWithoutWorkloadSelectors = "IST0111"
    /// A destination without a port names a service with several ports.
    case virtualServiceDestinationPortSelectorRequired = "IST0112"
    /// A VirtualService is bound to a Gateway none of whose servers exposes any of its hosts.
    case virtualServiceHostNotFoundInGateway = "IST0132"
    /// A security policy's selector matches no workload.
    case noMatchingWorkloadsFound = "IST0127"
    /// A DestinationRule subset selects no endpoint of its host.
    case destinationRuleSubsetNotSelectPods = "IST0173"
    /// A DestinationRule's host is no service in the registry.
    case unknownDestinationRuleHost = "IST0174"
    /// A Sidecar does not import a host that a VirtualService of its namespace routes.
    case sidecarHidesRoutedHost = "MSH0001"
    /// A second DestinationRule for one host in one namespace: meshd ignores it.
    case duplicateDestinationRule = "MSH0002"
    /// A Gateway API route's Service parent does not exist (or lacks the port it names): the
    /// route is not attached to it (`Accepted` false).
    case gatewayRouteNotAccepted = "MSH0003"
    /// A Gateway API route names a backend that cannot be routed to (missing, another kind, or
    /// in another namespace without a ReferenceGrant): `ResolvedRefs` false.
    case gatewayRouteRefNotResolved = "MSH0004"
    /// A Gateway API route and a VirtualService name one host: one is set aside for some
    /// clients (docs/gateway-api.md).
    case gatewayRouteHostConflict = "MSH0005"

    /// Istio's name for the message type (meshd's own for `MSH` codes).
    public var name: String {
        switch self {
        case .referencedResourceNotFound: "ReferencedResourceNotFound"
        case .schemaValidationError: "SchemaValidationError"
        case .conflictingMeshGatewayVirtualServiceHosts: "ConflictingMeshGatewayVirtualServiceHosts"
        case .conflictingSidecarWorkloadSelectors: "ConflictingSidecarWorkloadSelectors"
        case .multipleSidecarsWithoutWorkloadSelectors: "MultipleSidecarsWithoutWorkloadSelectors"
        case .virtualServiceDestinationPortSelectorRequired: "VirtualServiceDestinationPortSelectorRequired"
        case .virtualServiceHostNotFoundInGateway: "VirtualServiceHostNotFoundInGateway"
        case .noMatchingWorkloadsFound: "NoMatchingWorkloadsFound"
        case .destinationRuleSubsetNotSelectPods: "DestinationRuleSubsetNotSelectPods"
        case .unknownDestinationRuleHost: "UnknownDestinationRuleHost"
        case .sidecarHidesRoutedHost: "SidecarHidesRoutedHost"
        case .duplicateDestinationRule: "DuplicateDestinationRule"
        case .gatewayRouteNotAccepted: "GatewayRouteNotAccepted"
        case .gatewayRouteRefNotResolved: "GatewayRouteRefNotResolved"
        case .gatewayRouteHostConflict: "GatewayRouteHostConflict"
        }
    }

    /// The level: Istio's for its codes.
    public var level: AnalysisLevel {
        switch self {
        case .referencedResourceNotFound, .schemaValidationError, .conflictingMeshGatewayVirtualServiceHosts,
            .conflictingSidecarWorkloadSelectors, .multipleSidecarsWithoutWorkloadSelectors,
            .virtualServiceDestinationPortSelectorRequired, .destinationRuleSubsetNotSelectPods, .gatewayRouteNotAccepted,
            .gatewayRouteRefNotResolved:
            .error
        case .noMatchingWorkloadsFound, .virtualServiceHostNotFoundInGateway, .unknownDestinationRuleHost, .sidecarHidesRoutedHost,
            .duplicateDestinationRule, .gatewayRouteHostConflict:
            .warning
        }
    }
}

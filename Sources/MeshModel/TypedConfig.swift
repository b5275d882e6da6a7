/// A validated resource's spec in its typed form, one case per kind.
public enum TypedConfig: Sendable, Hashable {
    /// A VirtualService spec.
    case virtualService(VirtualService)
    /// A DestinationRule spec.
    case destinationRule(DestinationRule)
    /// A ServiceEntry spec.
    case serviceEntry(ServiceEntry)
    /// A WorkloadEntry spec.
    case workloadEntry(WorkloadEntry)
    /// A Gateway spec.
    case gateway(Gateway)
    /// A Sidecar spec.
    case sidecar(Sidecar)
    /// A PeerAuthentication spec.
    case peerAuthentication(PeerAuthentication)
    /// An AuthorizationPolicy spec.
    case authorizationPolicy(AuthorizationPolicy)
    /// A RequestAuthentication spec.
    case requestAuthentication(RequestAuthentication)
    /// A Telemetry spec.
    case telemetry(Telemetry)
    /// A gateway TLS credential's public half.
    case secret(TLSSecret)
    /// A canary's spec (meshd's own kind).
    case canary(CanarySpec)
    /// A Gateway API HTTPRoute or GRPCRoute (its flavor says which).
    case route(GatewayRoute)
    /// A Gateway API ReferenceGrant.
    case referenceGrant(ReferenceGrant)

    /// The kind of the spec.
    public var kind: ConfigKind {
        switch self {
        case .virtualService: .virtualService
        case .destinationRule: .destinationRule
        case .serviceEntry: .serviceEntry
        case .workloadEntry: .workloadEntry
        case .gateway: .gateway
        case .sidecar: .sidecar
        case .peerAuthentication: .peerAuthentication
        case .authorizationPolicy: .authorizationPolicy
        case .requestAuthentication: .requestAuthentication
        case .telemetry: .telemetry
        case .secret: .secret
        case .canary: .canary
        case .route(let route): route.flavor == .http ? .httpRoute : .grpcRoute
        case .referenceGrant: .referenceGrant
        }
    }
}

import Discovery
import MeshModel

/// Builds a `PushContext` from validated config. Pure: the same input gives the same context.
public enum PushContextBuilder {
    /// One validated config resource with the revision that created it.
    public struct Input: Sendable, Hashable {
        public var key: ConfigKey
        public var createdRevision: Int64
        public var annotations: [String: String]
        public var config: TypedConfig

        public init(key: ConfigKey, createdRevision: Int64, annotations: [String: String] = [:], config: TypedConfig) {
            self.key = key
            self.createdRevision = createdRevision
            self.annotations = annotations
            self.config = config
        }
    }

    /// The warning for a service whose selected WorkloadEntries' weights overflow uint32.
    public static func weightWarning(_ overflow: WeightOverflow) -> ConfigWarning {
        ConfigWarning(
            key: overflow.service, field: "spec.workloadSelector",
            message:
                "the weights of the \(overflow.workloads.count) selected WorkloadEntries add up to more than \(UInt32.max); proxies get them scaled down"
        )
    }

    /// Builds the context for `revision` from `inputs` (any order); `invalid` names stored config
    /// left out because it no longer validates, listed first among the warnings. With
    /// `registry`, the service registry is taken as given (the caller knows no ServiceEntry or
    /// WorkloadEntry changed since it was built) and those kinds among `inputs` are ignored.
    /// `settings` name the root namespace (Sidecar defaults, the lookup's last resort).
    /// `credentialMaterial` is the vault's material by digest, for the stored `Secret`s.
    /// `platform` holds the Kubernetes registry's services, merged in (`ConfigRegistry.build`);
    /// a `registry` given must have been built with the same platform generation.
    public static func build(
        revision: Int64, inputs: [Input], invalid: [ConfigWarning] = [],
        registry given: RegistrySnapshot? = nil, settings: MeshSettings = MeshSettings(),
        credentialMaterial: [String: CredentialMaterial] = [:], platform: PlatformServices = .none
    ) -> PushContext {
        // Oldest first, then by key: Istio's tie-break for resources that claim the same host.
        // Sorted as indices: an Input carries a whole typed resource, and a sort that moves the
        // values copies (and retains) them at every step, which dominated large builds.
        let ordered = inputs.indices
            .sorted { (inputs[$0].createdRevision, inputs[$0].key) < (inputs[$1].createdRevision, inputs[$1].key) }
            .lazy.map { inputs[$0] }
        var serviceEntries: [(key: ConfigKey, spec: ServiceEntry)] = []
        var workloads: [ConfigRegistry.Workload] = []
        var virtualServices: [String: [PushContext.VirtualServiceEntry]] = [:]
        var destinationRules: [String: [PushContext.DestinationRuleEntry]] = [:]
        var gatewayVirtualServices: [PushContext.VirtualServiceEntry] = []
        var gateways = GatewayIndex()
        var sidecars = SidecarIndex()
        var peerAuthentications = PeerAuthenticationIndex()
        var authorizationPolicies = AuthorizationIndex()
        var requestAuthentications = RequestAuthenticationIndex()
        var telemetries = TelemetryIndex()
        var credentials = CredentialIndex()
        var routes: [MeshRouteTranslation.RouteInput] = []
        var grants: [(key: ConfigKey, grant: ReferenceGrant)] = []
        var warnings = invalid

        for input in ordered {
            switch input.config {
            case .serviceEntry(let spec):
                if given == nil { serviceEntries.append((input.key, spec)) }
            case .workloadEntry(let spec):
                if given != nil { continue }
                workloads.append(.init(key: input.key, spec: spec, health: ConfigRegistry.health(annotations: input.annotations) ?? .unhealthy))
            case .virtualService(let spec):
                let entry = PushContext.VirtualServiceEntry(key: input.key, createdRevision: input.createdRevision, spec: spec)
                if !RouteBinding.gatewayNames(of: spec, namespace: input.key.namespace).isEmpty {
                    gatewayVirtualServices.append(entry)
                }
                // Host ownership is settled per binding: only mesh-bound VirtualServices compete
                // for the mesh's hosts (gateways merge theirs when their routes are built).
                guard RouteMatchTranslation.reachesMesh(spec) else { continue }
                for (index, raw) in spec.hosts.enumerated() {
                    let host = HostName.resolve(raw, namespace: input.key.namespace)
                    // One per namespace and host; other namespaces' rules are chosen per proxy.
                    if let winner = virtualServices[host]?.first(where: { $0.key.namespace == input.key.namespace }) {
                        warnings.append(
                            .init(
                                key: input.key, field: "spec.hosts[\(index)]",
                                message: "host \(host) is already routed by \(winner.key) in this namespace; this VirtualService is ignored for it"))
                        continue
                    }
                    virtualServices[host, default: []].append(entry)
                }
            case .destinationRule(let spec):
                let host = HostName.resolve(spec.host, namespace: input.key.namespace)
                if let winner = destinationRules[host]?.first(where: { $0.key.namespace == input.key.namespace }) {
                    warnings.append(
                        .init(
                            key: input.key, field: "spec.host",
                            message: "host \(host) already has DestinationRule \(winner.key) in this namespace; this one is ignored"))
                    continue
                }
                destinationRules[host, default: []].append(.init(key: input.key, createdRevision: input.createdRevision, spec: spec))
                for advisory in spec.advisories {
                    warnings.append(.init(key: input.key, field: advisory.field, message: advisory.message))
                }
            case .gateway(let spec):
                gateways.add(.init(key: input.key, createdRevision: input.createdRevision, spec: spec))
                for advisory in spec.advisories {
                    warnings.append(.init(key: input.key, field: advisory.field, message: advisory.message))
                }
            case .sidecar(let spec):
                if let warning = sidecars.add(.init(key: input.key, createdRevision: input.createdRevision, spec: spec)) {
                    warnings.append(warning)
                }
            case .authorizationPolicy(let spec):
                authorizationPolicies.add(.init(key: input.key, createdRevision: input.createdRevision, spec: spec))
                for advisory in spec.advisories {
                    warnings.append(.init(key: input.key, field: advisory.field, message: advisory.message))
                }
            case .requestAuthentication(let spec):
                requestAuthentications.add(.init(key: input.key, createdRevision: input.createdRevision, spec: spec))
            case .telemetry(let spec):
                telemetries.add(.init(key: input.key, createdRevision: input.createdRevision, spec: spec))
                for advisory in spec.advisories {
                    warnings.append(.init(key: input.key, field: advisory.field, message: advisory.message))
                }
            case .peerAuthentication(let spec):
                if let warning = peerAuthentications.add(.init(key: input.key, createdRevision: input.createdRevision, spec: spec)) {
                    warnings.append(warning)
                }
            case .canary:
                continue  // meshd's own: its steps are VirtualService changes, never translated itself
            case .route(let route):
                routes.append(.init(key: input.key, createdRevision: input.createdRevision, route: route))
            case .referenceGrant(let grant):
                grants.append((input.key, grant))
            case .secret(let spec):
                let material = credentialMaterial[spec.material]
                credentials.add(.init(key: input.key, spec: spec, material: material))
                if material == nil {
                    warnings.append(
                        .init(
                            key: input.key, field: "spec.material",
                            message:
                                "its key material (\(spec.material)) is not in the credential vault; gateways get nothing for it until it is created again"
                        ))
                }
            }
        }
        let rejectedGatewayServers = GatewayConflicts.warnings(gateways)
        warnings += rejectedGatewayServers
        let registry = given ?? ConfigRegistry.build(serviceEntries: serviceEntries, workloads: workloads, platform: platform)
        for host in registry.weightOverflows.keys.sorted() {
            guard let overflow = registry.weightOverflows[host] else { continue }
            warnings.append(weightWarning(overflow))
        }
        let meshRoutes = MeshRouteTranslation.translate(routes: routes, grants: grants, registry: registry)
        warnings += meshRoutes.warnings
        warnings += merge(meshRoutes.virtualServices, into: &virtualServices)
        warnings += SecurityWarnings.warnings(authorizationPolicies, requestAuthentications, settings: settings, registry: registry)
        warnings += TelemetryWarnings.warnings(telemetries, settings: settings, registry: registry)
        let context = PushContext(
            revision: revision, registry: registry, virtualServices: virtualServices,
            destinationRules: destinationRules, gatewayVirtualServices: gatewayVirtualServices, gateways: gateways,
            rejectedGatewayServers: rejectedGatewayServers, sidecars: sidecars,
            peerAuthentications: peerAuthentications, authorizationPolicies: authorizationPolicies,
            requestAuthentications: requestAuthentications, telemetries: telemetries,
            credentials: credentials, settings: settings, warnings: warnings,
            routeVirtualServices: meshRoutes.virtualServices, routeStatuses: meshRoutes.statuses)
        return context.replacing(
            revision: revision, platformGeneration: platform.generation, registry: registry,
            warnings: warnings + ReferenceChecker.warnings(in: context), invalid: invalid, scope: .full)
    }

    /// Puts the VirtualServices generated from Gateway API routes among the mesh's: in each
    /// namespace the older of a route's and a user's VirtualService for a host serves the
    /// clients of other namespaces (the route always serves its own namespace's, through
    /// `PushContext.routeVirtualServices`). Returns a warning for each one set aside.
    static func merge(
        _ generated: [String: [PushContext.VirtualServiceEntry]], into virtualServices: inout [String: [PushContext.VirtualServiceEntry]]
    ) -> [ConfigWarning] {
        var warnings: [ConfigWarning] = []
        for host in generated.keys.sorted() {
            for entry in generated[host] ?? [] {
                var entries = virtualServices[host] ?? []
                if let index = entries.firstIndex(where: { $0.key.namespace == entry.key.namespace }) {
                    let other = entries[index]
                    if (other.createdRevision, other.key) < (entry.createdRevision, entry.key) {
                        warnings.append(
                            .init(
                                key: entry.key, field: "spec.parentRefs",
                                message:
                                    "host \(host) is also routed by the older \(other.key); this route serves clients in namespace \(entry.key.namespace) only, the VirtualService the others"
                            ))
                        continue
                    }
                    warnings.append(
                        .init(
                            key: other.key, field: "spec.hosts",
                            message:
                                "host \(host) is also routed by the older \(entry.key) (Gateway API); it serves clients in namespace \(entry.key.namespace), and this VirtualService is ignored for it"
                        ))
                    entries.remove(at: index)
                }
                entries.append(entry)
                entries.sort { ($0.createdRevision, $0.key) < ($1.createdRevision, $1.key) }
                virtualServices[host] = entries
            }
        }
        return warnings
    }
}

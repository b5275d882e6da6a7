import Discovery
import MeshModel

/// Everything the generators read, at one config revision: immutable, `Sendable`, built once per
/// debounced change by `PushContextBuilder` and published by swapping a reference.
public struct PushContext: Sendable {
    /// What may have changed since the previous context, so generation can skip the rest.
    public enum Scope: Sendable, Hashable {
        /// Anything may have changed: generate everything.
        case full
        /// Only the endpoints of `hosts` changed since version `since` (a WorkloadEntry-only
        /// change, or a platform one such as a pod turning ready): every other resource is what
        /// version `since` generated.
        case endpoints(since: PushVersion, hosts: Set<String>)
    }

    /// A VirtualService with what orders it among others for the same host.
    public struct VirtualServiceEntry: Sendable, Hashable {
        public var key: ConfigKey
        public var createdRevision: Int64
        public var spec: VirtualService
        /// The Gateway API routes the entry was generated from (`MeshRouteTranslation`), oldest
        /// first; empty for a VirtualService a user wrote. `key` is the oldest route's.
        public var routes: [ConfigKey] = []
    }

    /// A DestinationRule.
    public struct DestinationRuleEntry: Sendable, Hashable {
        public var key: ConfigKey
        public var createdRevision: Int64
        public var spec: DestinationRule

        /// The labels of a named subset, or nil when the rule has no such subset.
        public func subset(_ name: String) -> [String: String]? {
            spec.subsets.first { $0.name == name }?.labels
        }
    }

    /// The store revision this context reflects.
    public private(set) var revision: Int64
    /// The platform registry's generation this context reflects (`PlatformServices.generation`;
    /// 0 without one): a pod turning ready changes the registry without a store write.
    public private(set) var platformGeneration: Int64 = 0
    /// What orders contexts: the store revision, then the platform generation. Snapshots are
    /// cached and brought up to date by it.
    public var version: PushVersion { PushVersion(revision: revision, platform: platformGeneration) }
    /// Services and endpoints.
    public private(set) var registry: RegistrySnapshot
    /// The VirtualServices bound to the mesh (`gateways` empty or naming `mesh`, in the
    /// VirtualService or one of its matches) naming each host: at most one per namespace (the
    /// oldest wins within a namespace, as in Istio), oldest first. Which one a proxy uses is
    /// decided per namespace by `virtualService(for:serviceNamespace:from:)`. Host ownership is
    /// settled among mesh-bound VirtualServices only: one bound to gateways alone never takes a
    /// host from the mesh (each gateway settles its own, `gatewayVirtualServices`).
    public let virtualServices: [String: [VirtualServiceEntry]]
    /// The DestinationRules for each host: at most one per namespace, oldest first; chosen per
    /// proxy by `destinationRule(for:serviceNamespace:from:)`.
    public let destinationRules: [String: [DestinationRuleEntry]]
    /// The VirtualServices generated from Gateway API routes attached to Services, per host: one
    /// per route namespace, oldest first. Each is also among `virtualServices` for its
    /// namespace unless an older VirtualService there names the host (istiod's rule: a route
    /// serves the clients of its own namespace before any VirtualService; elsewhere the older
    /// wins).
    public let routeVirtualServices: [String: [VirtualServiceEntry]]
    /// Each Gateway API route's status (`Accepted`, `ResolvedRefs` per parent).
    public let routeStatuses: [ConfigKey: RouteStatus]
    /// Every VirtualService bound to some Gateway (its `gateways` or a match's), oldest first:
    /// what gateway proxies route by, binding by binding.
    public let gatewayVirtualServices: [VirtualServiceEntry]
    /// The Gateways, oldest first.
    public let gateways: GatewayIndex
    /// Gateway servers a merge skips (a conflict with an older server), each also among
    /// `warnings`.
    public let rejectedGatewayServers: [ConfigWarning]
    /// The Sidecars, indexed for selection.
    public let sidecars: SidecarIndex
    /// The PeerAuthentications, indexed for Istio's precedence.
    public let peerAuthentications: PeerAuthenticationIndex
    /// The AuthorizationPolicies, indexed by scope.
    public let authorizationPolicies: AuthorizationIndex
    /// The RequestAuthentications, indexed by scope.
    public let requestAuthentications: RequestAuthenticationIndex
    /// The Telemetries, indexed by scope (istiod's lookup: root, namespace, workload).
    public let telemetries: TelemetryIndex
    /// Gateway TLS credentials (stored `Secret`s with their vaulted material).
    public let credentials: CredentialIndex
    /// The mesh settings the context was built with (root namespace, extension providers,
    /// fetched key sets, and their generation).
    public private(set) var settings: MeshSettings
    /// Problems found while building, each naming the resource and field (dangling references,
    /// ignored duplicates); the admin API shows them and apply returns those of the applied resources.
    public private(set) var warnings: [ConfigWarning]
    /// Stored resources left out of this context because they fail today's validation (written
    /// under older rules); each is also among `warnings`. Operators must fix or delete them.
    public private(set) var invalid: [ConfigWarning]
    /// What changed since the previous context; `.full` unless the push pipeline knows better.
    public private(set) var scope: Scope
    /// The label keys any VirtualService match's `sourceLabels` names: the part of a proxy's
    /// labels its routes can depend on, and so part of its view key.
    public let sourceLabelKeys: Set<String>
    /// The wildcard hosts VirtualServices name (`*.example.com`, `*`), most specific (longest)
    /// first: a service without a VirtualService for its own name takes the first that matches.
    public let wildcardVirtualServiceHosts: [String]
    /// Whether some DestinationRule makes endpoints depend on the proxy's locality (locality
    /// weights, or failover with outlier detection): then the locality is part of view keys.
    public let isLocalityAware: Bool
    /// The label keys any `failoverPriority` names: part of view keys.
    public let failoverPriorityLabelKeys: Set<String>
    /// The label keys any security policy's or Telemetry's selector names (PeerAuthentication,
    /// AuthorizationPolicy, RequestAuthentication): the part of a server's labels its listeners
    /// depend on. Computed once here, not per view key.
    public let policySelectorLabelKeys: Set<String>

    public init(
        revision: Int64, registry: RegistrySnapshot, virtualServices: [String: [VirtualServiceEntry]],
        destinationRules: [String: [DestinationRuleEntry]], gatewayVirtualServices: [VirtualServiceEntry] = [],
        gateways: GatewayIndex = GatewayIndex(), rejectedGatewayServers: [ConfigWarning] = [], sidecars: SidecarIndex = SidecarIndex(),
        peerAuthentications: PeerAuthenticationIndex = PeerAuthenticationIndex(),
        authorizationPolicies: AuthorizationIndex = AuthorizationIndex(),
        requestAuthentications: RequestAuthenticationIndex = RequestAuthenticationIndex(), telemetries: TelemetryIndex = TelemetryIndex(),
        credentials: CredentialIndex = CredentialIndex(),
        settings: MeshSettings = MeshSettings(), warnings: [ConfigWarning], invalid: [ConfigWarning] = [],
        scope: Scope = .full, routeVirtualServices: [String: [VirtualServiceEntry]] = [:], routeStatuses: [ConfigKey: RouteStatus] = [:]
    ) {
        self.routeVirtualServices = routeVirtualServices
        self.routeStatuses = routeStatuses
        self.peerAuthentications = peerAuthentications
        self.authorizationPolicies = authorizationPolicies
        self.requestAuthentications = requestAuthentications
        self.telemetries = telemetries
        self.policySelectorLabelKeys = peerAuthentications.selectorLabelKeys.union(authorizationPolicies.selectorLabelKeys)
            .union(requestAuthentications.selectorLabelKeys).union(telemetries.selectorLabelKeys)
        self.credentials = credentials
        self.revision = revision
        self.registry = registry
        self.virtualServices = virtualServices
        self.destinationRules = destinationRules
        self.sidecars = sidecars
        self.gatewayVirtualServices = gatewayVirtualServices
        self.gateways = gateways
        self.rejectedGatewayServers = rejectedGatewayServers
        self.settings = settings
        self.warnings = warnings
        self.invalid = invalid
        self.scope = scope
        var keys: Set<String> = []
        for entry in virtualServices.values.joined() + gatewayVirtualServices {
            for rule in entry.spec.http { for match in rule.match { keys.formUnion(match.sourceLabels.keys) } }
            for rule in entry.spec.tcp { for match in rule.match { keys.formUnion(match.sourceLabels.keys) } }
            for rule in entry.spec.tls { for match in rule.match { keys.formUnion(match.connection.sourceLabels.keys) } }
        }
        self.sourceLabelKeys = keys
        var localityAware = false
        var priorityKeys: Set<String> = []
        for entries in destinationRules.values {
            for entry in entries {
                for settings in entry.spec.allPolicySettings {
                    if LocalityLoadBalancing.isLocalitySensitive(settings) { localityAware = true }
                    if let setting = settings.loadBalancer?.localityLbSetting, !setting.isDisabled {
                        priorityKeys.formUnion(setting.failoverPriorityLabels)
                    }
                }
            }
        }
        self.isLocalityAware = localityAware
        self.failoverPriorityLabelKeys = priorityKeys
        self.wildcardVirtualServiceHosts = virtualServices.keys.filter { $0.hasPrefix("*") }
            .sorted { ($0.count, $0) > ($1.count, $1) }
    }

    /// An empty context (before the store has been read).
    public static let empty = PushContext(revision: 0, registry: RegistrySnapshot(), virtualServices: [:], destinationRules: [:], warnings: [])

    /// This context under other mesh settings (what a settings-only change amounts to when no
    /// resource depends on the settings' warnings; tests).
    public func replacingSettings(_ settings: MeshSettings) -> PushContext {
        var next = self
        next.settings = settings
        return next
    }

    /// This context at `revision` with another registry, warnings and scope: the endpoint-only
    /// update, where routing config and Sidecars did not change. The routing indices derived
    /// from them (`sourceLabelKeys`, `wildcardVirtualServiceHosts`) are
    /// kept, not recomputed.
    public func replacing(
        revision: Int64, platformGeneration: Int64? = nil, registry: RegistrySnapshot, warnings: [ConfigWarning],
        invalid: [ConfigWarning], scope: Scope
    ) -> PushContext {
        var next = self
        next.revision = revision
        next.platformGeneration = platformGeneration ?? self.platformGeneration
        next.registry = registry
        next.warnings = warnings
        next.invalid = invalid
        next.scope = scope
        return next
    }
}

/// A non-fatal problem with a config resource.
public struct ConfigWarning: Sendable, Hashable, CustomStringConvertible {
    /// The resource the warning is about.
    public var key: ConfigKey
    /// The field path, Istio style (`spec.http[0].route[1].destination.subset`).
    public var field: String
    /// What is wrong.
    public var message: String

    public init(key: ConfigKey, field: String, message: String) {
        self.key = key
        self.field = field
        self.message = message
    }

    public var description: String { "\(key): \(field): \(message)" }
}

extension PushContext.Scope {
    /// The registry events an `.endpoints` scope stands for (none for `.full`).
    public var endpointEvents: [RegistryEvent] {
        guard case .endpoints(_, let hosts) = self else { return [] }
        return hosts.sorted().map(RegistryEvent.endpointsChanged)
    }
}

/// The order of PushContexts: the store revision, then the platform registry's generation. Both
/// only grow, so a context built later always has a greater version.
public struct PushVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The config store's revision.
    public var revision: Int64
    /// The platform registry's generation (0 without one).
    public var platform: Int64

    public init(revision: Int64, platform: Int64 = 0) {
        self.revision = revision
        self.platform = platform
    }

    public static func < (lhs: PushVersion, rhs: PushVersion) -> Bool {
        (lhs.revision, lhs.platform) < (rhs.revision, rhs.platform)
    }

    /// `"12"`, or `"12.3"` with a platform generation.
    public var description: String { platform == 0 ? "\(revision)" : "\(revision).\(platform)" }
}

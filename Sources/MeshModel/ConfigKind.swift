/// The Istio networking, security and telemetry kinds meshd serves, with the names Kubernetes tooling uses
/// for them, and `Secret`: the public half of a gateway TLS credential (its key material lives in
/// the store's credential vault, never in a resource).
///
/// Ordering (`Comparable`) is by the kind name, so listings are stable and alphabetical.
public enum ConfigKind: String, CaseIterable, Sendable, Codable, Comparable {
    /// `VirtualService`: routing rules for hosts.
    case virtualService = "VirtualService"
    /// `DestinationRule`: subsets and traffic policy for a host.
    case destinationRule = "DestinationRule"
    /// `ServiceEntry`: a service added to the mesh by hand.
    case serviceEntry = "ServiceEntry"
    /// `WorkloadEntry`: a workload (VM, bare process) added to the mesh by hand.
    case workloadEntry = "WorkloadEntry"
    /// `Gateway`: the ports, hosts and TLS an Envoy gateway proxy exposes at the mesh's edge.
    case gateway = "Gateway"
    /// `Sidecar`: which services the proxies of a namespace (or selected workloads) can reach.
    case sidecar = "Sidecar"
    /// `PeerAuthentication`: the mutual TLS mode servers accept (mesh, namespace or workload).
    case peerAuthentication = "PeerAuthentication"
    /// `AuthorizationPolicy`: who may call what on the selected workloads.
    case authorizationPolicy = "AuthorizationPolicy"
    /// `RequestAuthentication`: the JSON Web Tokens the selected workloads' proxies verify.
    case requestAuthentication = "RequestAuthentication"
    /// `Telemetry` (telemetry.istio.io): access logs, tracing and metrics of the selected
    /// workloads' proxies.
    case telemetry = "Telemetry"
    /// `Secret` (core `v1`, type `kubernetes.io/tls`): a gateway TLS credential as resources
    /// show it: the certificate's names, serial, expiry and the digest of the vaulted material.
    /// Written only through `/api/v1/secrets` (`meshctl create secret tls`).
    case secret = "Secret"
    /// `Canary` (meshd.io, meshd's own kind): a VirtualService's weights stepped from one subset
    /// to another by the new subset's observed traffic, rolled back when it is out of bounds
    /// (docs/canary-steps.md). Its `status` is written by meshd.
    case canary = "Canary"
    /// `HTTPRoute` (gateway.networking.k8s.io): the Gateway API's HTTP routing; attached to a
    /// Service (`parentRefs` kind `Service`), it routes the mesh's traffic to that Service.
    case httpRoute = "HTTPRoute"
    /// `GRPCRoute` (gateway.networking.k8s.io): the Gateway API's gRPC routing, by service and
    /// method.
    case grpcRoute = "GRPCRoute"
    /// `ReferenceGrant` (gateway.networking.k8s.io): lets routes of other namespaces refer to
    /// the grant's namespace's Services.
    case referenceGrant = "ReferenceGrant"

    /// The API group: `security.istio.io` for the security kinds, `telemetry.istio.io` for
    /// `Telemetry`, `""` (Kubernetes' core group) for `Secret`, `meshd.io` for `Canary`, else
    /// `networking.istio.io`.
    public var group: String {
        switch self {
        case .peerAuthentication, .authorizationPolicy, .requestAuthentication: "security.istio.io"
        case .telemetry: "telemetry.istio.io"
        case .secret: ""
        case .canary: "meshd.io"
        case .httpRoute, .grpcRoute, .referenceGrant: "gateway.networking.k8s.io"
        default: "networking.istio.io"
        }
    }

    /// Whether documents of this kind may be applied or deleted through the config API; a
    /// `Secret` goes through `/api/v1/secrets`, which checks and vaults its key material.
    public var isAppliedAsDocument: Bool { self != .secret }

    /// The lowercase plural Kubernetes uses in URLs: `virtualservices`.
    public var plural: String {
        switch self {
        case .virtualService: "virtualservices"
        case .destinationRule: "destinationrules"
        case .serviceEntry: "serviceentries"
        case .workloadEntry: "workloadentries"
        case .gateway: "gateways"
        case .sidecar: "sidecars"
        case .peerAuthentication: "peerauthentications"
        case .authorizationPolicy: "authorizationpolicies"
        case .requestAuthentication: "requestauthentications"
        case .telemetry: "telemetries"
        case .secret: "secrets"
        case .canary: "canaries"
        case .httpRoute: "httproutes"
        case .grpcRoute: "grpcroutes"
        case .referenceGrant: "referencegrants"
        }
    }

    /// The short names `kubectl` accepts: `vs`, `dr`, `se`, `we`, `gw`, `telemetry`, `refgrant`
    /// (Sidecar and the routes have none).
    public var shortNames: [String] {
        switch self {
        case .virtualService: ["vs"]
        case .destinationRule: ["dr"]
        case .serviceEntry: ["se"]
        case .workloadEntry: ["we"]
        case .gateway: ["gw"]
        case .sidecar: []
        case .peerAuthentication: ["pa"]
        case .authorizationPolicy: ["ap"]
        case .requestAuthentication: ["ra"]
        case .telemetry: ["telemetry"]
        case .secret: []
        case .canary: []
        case .httpRoute, .grpcRoute: []
        case .referenceGrant: ["refgrant"]
        }
    }

    /// The versions of `networking.istio.io` accepted on input, newest first. Istio serves the
    /// same schema under all three, so a document is accepted under any of them.
    public static let supportedVersions: [String] = ["v1", "v1beta1", "v1alpha3"]

    /// The versions of `security.istio.io` accepted on input, newest first (one schema).
    public static let securityVersions: [String] = ["v1", "v1beta1"]

    /// The versions of `telemetry.istio.io` accepted on input, newest first (one schema).
    public static let telemetryVersions: [String] = ["v1", "v1alpha1"]

    /// The versions of `meshd.io` accepted on input.
    public static let meshdVersions: [String] = ["v1alpha1"]

    /// Whether meshd writes the resource's `status` (and keeps it across a user's apply).
    public var hasStatus: Bool { self == .canary }

    /// Whether the kind is one of the Gateway API's (its schema is the pinned CRDs',
    /// `GatewaySchema`).
    public var isGatewayAPI: Bool { group == "gateway.networking.k8s.io" }

    /// Every accepted `apiVersion` string, e.g. `networking.istio.io/v1`, newest first.
    public var supportedAPIVersions: [String] {
        let versions: [String]
        switch group {
        case "": return ["v1"]
        case "security.istio.io": versions = Self.securityVersions
        case "telemetry.istio.io": versions = Self.telemetryVersions
        case "meshd.io": versions = Self.meshdVersions
        case "gateway.networking.k8s.io": versions = GatewaySchema.servedVersions[rawValue] ?? []
        default: versions = Self.supportedVersions
        }
        return versions.map { "\(group)/\($0)" }
    }

    /// Finds a kind by any name a user may type, ignoring case: the kind (`VirtualService`), the
    /// plural (`virtualservices`), the singular (`virtualservice`), a short name (`vs`), or any of
    /// these qualified by the group (`virtualservices.networking.istio.io`,
    /// `peerauthentications.security.istio.io`, `telemetries.telemetry.istio.io`,
    /// `canaries.meshd.io`, `httproutes.gateway.networking.k8s.io`).
    /// - Returns: `nil` when nothing matches.
    public static func named(_ s: String) -> ConfigKind? {
        var name = s.lowercased()
        for suffix in [".networking.istio.io", ".security.istio.io", ".telemetry.istio.io", ".meshd.io", ".gateway.networking.k8s.io"]
        where name.hasSuffix(suffix) {
            name.removeLast(suffix.count)
        }
        return allCases.first { kind in
            kind.rawValue.lowercased() == name || kind.plural == name || kind.shortNames.contains(name)
        }
    }

    /// Orders kinds by name.
    public static func < (lhs: ConfigKind, rhs: ConfigKind) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}

import MeshModel

/// The one place that decides, by proxy kind, what meshd sends: the generator of each xDS type
/// for each kind, as istiod's `findGenerator` does. Generators that serve several kinds are
/// declared here with the options that shape them for one kind (gateways share Envoy's cluster
/// and endpoint generators, as istiod's do); nothing else asks which kind a proxy is.
///
/// A kind mapped to no generators is not served: the push server refuses its streams
/// (`serves(_:)`), so such a proxy gets one clear answer instead of another kind's shapes.
public struct GeneratorTable: Sendable {
    /// The SPIFFE trust domain expected in destination certificates.
    public let trustDomain: String
    private let byKind: [ProxyKind: [any ResourceGenerator]]

    /// meshd's table, for a mesh whose workload identities are in `trustDomain`.
    public init(trustDomain: String) {
        var byKind: [ProxyKind: [any ResourceGenerator]] = [:]
        for kind in ProxyKind.allCases {
            switch kind {
            case .proxylessGRPC:
                byKind[kind] = [
                    ClusterGenerator(trustDomain: trustDomain, dialect: .grpc, autoMTLS: false),
                    EndpointGenerator(autoMTLS: false, dialect: .grpc),
                    ProxylessListenerGenerator(),
                    ProxylessRouteGenerator(),
                ]
            case .sidecar:
                byKind[kind] = [
                    EnvoySidecarClusterGenerator(outbound: ClusterGenerator(trustDomain: trustDomain, dialect: .envoy, autoMTLS: true)),
                    EndpointGenerator(autoMTLS: true, dialect: .envoy),
                    EnvoyListenerGenerator(trustDomain: trustDomain),
                    EnvoyRouteGenerator(),
                ]
            case .gateway:
                // istiod's gateways share the Envoy cluster and endpoint building.
                byKind[kind] = [
                    GatewayClusterGenerator(outbound: ClusterGenerator(trustDomain: trustDomain, dialect: .envoy, autoMTLS: true)),
                    EndpointGenerator(autoMTLS: true, dialect: .envoy),
                    GatewayListenerGenerator(),
                    GatewayRouteGenerator(),
                    GatewaySecretGenerator(),
                ]
            }
        }
        self.init(trustDomain: trustDomain, generators: byKind)
    }

    /// A table with the given generators per kind (tests and benchmarks that count or slow
    /// generation); a kind not listed is not served.
    public init(trustDomain: String, generators: [ProxyKind: [any ResourceGenerator]]) {
        self.trustDomain = trustDomain
        self.byKind = generators.filter { !$0.value.isEmpty }
    }

    /// The generators of a proxy of `kind`, one per xDS type it is served (empty: not served).
    public func generators(for kind: ProxyKind) -> [any ResourceGenerator] {
        byKind[kind] ?? []
    }

    /// The generator of `typeURL` for `kind`, or nil when that kind is not served the type.
    public func generator(for kind: ProxyKind, typeURL: String) -> (any ResourceGenerator)? {
        generators(for: kind).first { $0.typeURL == typeURL }
    }

    /// Whether meshd serves proxies of `kind` at all.
    public func serves(_ kind: ProxyKind) -> Bool { !generators(for: kind).isEmpty }

    /// Whether a proxy of `kind` is configured for the workload beside it (its inbound ports, a
    /// Sidecar's `ingress`): an Envoy sidecar is; a proxyless server asks for its inbound
    /// listeners by name, and a gateway has no workload.
    public static func takesWorkloadPorts(_ kind: ProxyKind) -> Bool {
        switch kind {
        case .sidecar: true
        case .proxylessGRPC, .gateway: false
        }
    }

    /// Whether a proxy of `kind` serves Gateways (those whose selector matches its labels) and
    /// routes by the VirtualServices bound to them, rather than by the mesh's.
    public static func takesGateways(_ kind: ProxyKind) -> Bool {
        switch kind {
        case .gateway: true
        case .proxylessGRPC, .sidecar: false
        }
    }

    /// Whether a Sidecar resource can apply to a proxy of `kind`: a gateway has no workload
    /// beside it, and istiod gives gateways a default scope (every exported service), whatever
    /// Sidecars its namespace holds.
    public static func takesSidecarResources(_ kind: ProxyKind) -> Bool {
        switch kind {
        case .proxylessGRPC, .sidecar: true
        case .gateway: false
        }
    }

    /// The resources of `typeURL` a proxy with `view` gets at `push` (empty when its kind is not
    /// served the type).
    public func resources(_ typeURL: String, for view: ProxyView, in push: PushContext) -> [XDSResource] {
        generator(for: view.key.kind, typeURL: typeURL)?.generate(for: view, in: push) ?? []
    }

    /// The resources of `typeURL` `proxy` gets at `push` (tests and tools; the push server goes
    /// through its snapshot cache, which shares one view per key).
    public func resources(_ typeURL: String, for proxy: Proxy, in push: PushContext) -> [XDSResource] {
        resources(typeURL, for: ProxyView(key: push.viewKey(for: proxy), push: push), in: push)
    }
}

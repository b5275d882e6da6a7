import Discovery
import EnvoyAPI
import MeshModel

/// RDS for Envoy sidecars: one route configuration per HTTP port, named by the port (`9080`),
/// which the outbound listener `0.0.0.0_9080` names. It holds one virtual host per visible
/// service with an HTTP port of that number, named `HOST:PORT`, whose domains are every name
/// the service answers to from the proxy's namespace (`VirtualHostDomains`) and whose routes
/// are exactly those a proxyless client gets for the service (`RouteBuilder`), then
/// the catch-all for unknown hosts: `allow_any` to `PassthroughCluster` (ALLOW_ANY, the
/// default) or `block_all` answering 502 (REGISTRY_ONLY), as Istio does.
///
/// A domain is listed once per route configuration (Envoy refuses duplicates): when two
/// services would claim one (a ServiceEntry host that equals another's short name), the first
/// service by host keeps it.
struct EnvoyRouteGenerator: ResourceGenerator {
    var typeURL: String { TypeURL.route }

    func generate(for view: ProxyView, in push: PushContext) -> [XDSResource] {
        let shared = RouteBuilder(dialect: .envoy)
        var byPort: [UInt32: [Service]] = [:]
        for service in view.services {
            for port in service.ports where EnvoyOutbound.isHTTP(port) {
                byPort[port.number, default: []].append(service)
            }
        }
        var resources: [XDSResource] = []
        for (port, services) in byPort {
            var used: Set<String> = []
            var hosts: [Envoy_Config_Route_V3_VirtualHost] = []
            var clusters: Set<String> = []
            for service in services {
                // The service's names, then those of the ExternalName Services that alias it.
                let names = [(service.host, service.addresses)] + (push.registry.aliases[service.host] ?? []).map { ($0, [String]()) }
                let domains = names.flatMap { name, addresses in
                    VirtualHostDomains.domains(host: name, port: port, addresses: addresses, proxyNamespace: view.key.namespace)
                }
                .filter { used.insert($0.lowercased()).inserted }
                guard !domains.isEmpty else { continue }
                var host = Envoy_Config_Route_V3_VirtualHost()
                host.name = EnvoyNames.virtualHost(host: service.host, port: port)
                host.domains = domains
                host.routes = shared.routes(for: service, port: port, view: view)
                clusters.formUnion(shared.clusters(in: host.routes))
                hosts.append(host)
            }
            if !used.contains("*") {
                hosts.append(Self.catchAll(view.outboundTrafficPolicy ?? .allowAny))
                if (view.outboundTrafficPolicy ?? .allowAny) == .allowAny { clusters.insert(EnvoyNames.passthroughCluster) }
            }
            var configuration = Envoy_Config_Route_V3_RouteConfiguration()
            configuration.name = EnvoyNames.routeConfiguration(port: port)
            configuration.virtualHosts = hosts
            resources.append(XDSResource(name: configuration.name, message: configuration, dependencies: clusters.sorted()))
        }
        return resources.sorted { $0.name < $1.name }
    }

    /// The virtual host for hosts no service claims.
    static func catchAll(_ mode: Sidecar.OutboundTrafficMode) -> Envoy_Config_Route_V3_VirtualHost {
        var route = Envoy_Config_Route_V3_Route()
        route.match.prefix = "/"
        var host = Envoy_Config_Route_V3_VirtualHost()
        host.domains = ["*"]
        switch mode {
        case .allowAny:
            host.name = "allow_any"
            route.name = "allow_any"
            route.route.cluster = EnvoyNames.passthroughCluster
        case .registryOnly:
            host.name = "block_all"
            route.name = "block_all"
            var direct = Envoy_Config_Route_V3_DirectResponseAction()
            direct.status = 502
            route.directResponse = direct
        }
        host.routes = [route]
        return host
    }
}

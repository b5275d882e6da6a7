import EnvoyAPI
import MeshModel

/// RDS for Envoy gateways, as istiod's gateway builder makes it: one route configuration per
/// name the listeners ask for (`http.PORT` shared by the plain HTTP servers on a port,
/// `https.PORT.PORT_NAME.GATEWAY.NAMESPACE` per HTTPS server).
///
/// For each server of the configuration (merge order), each VirtualService bound to its Gateway
/// (oldest first) contributes its `http[]` routes — built for that Gateway (`match.gateways`,
/// `match.port` against the server's port), with everything the mesh's routes carry — to one
/// virtual host per host the server exposes of it (`GatewayHosts`). A virtual host is named
/// `HOST:PORT` and matches `HOST` alone (ports are ignored in host matching). Several
/// VirtualServices for one host append their routes to one virtual host, in VirtualService order;
/// catch-all routes are then moved after the others, so one VirtualService's `/` does not hide
/// another's paths. A server with `tls.httpsRedirect` marks its hosts' virtual hosts `require_tls:
/// ALL` (Envoy answers plain HTTP with a redirect to HTTPS), creating them without routes where
/// no VirtualService binds. Without any virtual host, `blackhole:PORT` (every domain, no routes)
/// makes Envoy answer 404.
///
/// Not done: istiod's optional merging of virtual hosts whose routes are identical into one
/// (same behaviour, fewer virtual hosts).
struct GatewayRouteGenerator: ResourceGenerator {
    var typeURL: String { TypeURL.route }

    func generate(for view: ProxyView, in push: PushContext) -> [XDSResource] {
        let merged = MergedGateway(push.gateways.entries(view.key.gateways), reservedPorts: EnvoyNames.reservedPorts)
        return merged.routeNames.map { name in
            let configuration = Self.configuration(name, servers: merged.servers(forRoute: name), view: view)
            let builder = RouteBuilder(dialect: .envoy)
            let clusters = Set(configuration.virtualHosts.flatMap { builder.clusters(in: $0.routes) }).sorted()
            return XDSResource(name: name, message: configuration, dependencies: clusters)
        }
    }

    static func configuration(_ name: String, servers: [MergedGateway.Server], view: ProxyView) -> Envoy_Config_Route_V3_RouteConfiguration {
        let builder = RouteBuilder(dialect: .envoy)
        var order: [String] = []
        var hosts: [String: Envoy_Config_Route_V3_VirtualHost] = [:]
        func virtualHost(_ host: String, port: UInt32) -> Envoy_Config_Route_V3_VirtualHost {
            if let existing = hosts[host] { return existing }
            order.append(host)
            var created = Envoy_Config_Route_V3_VirtualHost()
            created.name = "\(host):\(port)"
            created.domains = [host]
            return created
        }
        for server in servers {
            let port = server.spec.port.number
            let redirect = server.spec.tls?.httpsRedirect ?? false
            for entry in GatewayListenerGenerator.boundVirtualServices(server, view: view) {
                let routes = builder.virtualServiceRoutes(entry, port: port, binding: .gateways([server.gatewayName]), view: view)
                guard !routes.isEmpty else { continue }
                for host in GatewayHosts.exposed(by: server, of: entry) {
                    var vhost = virtualHost(host, port: port)
                    vhost.routes += routes
                    if redirect { vhost.requireTls = .all }
                    hosts[host] = vhost
                }
            }
            if redirect {
                for host in server.spec.hosts.map({ $0.dnsName.lowercased() }) {
                    var vhost = virtualHost(host, port: port)
                    vhost.requireTls = .all
                    hosts[host] = vhost
                }
            }
        }
        var configuration = Envoy_Config_Route_V3_RouteConfiguration()
        configuration.name = name
        configuration.validateClusters = .init(false)
        configuration.ignorePortInHostMatching = true
        var virtualHosts = order.compactMap { hosts[$0] }.map { host in
            var sorted = host
            sorted.routes = host.routes.filter { !isCatchAll($0) } + host.routes.filter(isCatchAll)
            return sorted
        }
        if virtualHosts.isEmpty {
            var blackhole = Envoy_Config_Route_V3_VirtualHost()
            blackhole.name = "blackhole:\(servers.first?.spec.port.number ?? 0)"
            blackhole.domains = ["*"]
            virtualHosts = [blackhole]
        }
        configuration.virtualHosts = virtualHosts.sorted { $0.name < $1.name }
        return configuration
    }

    /// A route every request matches: prefix `/` (or regex `.*`) with no header or query
    /// condition.
    static func isCatchAll(_ route: Envoy_Config_Route_V3_Route) -> Bool {
        guard route.match.headers.isEmpty, route.match.queryParameters.isEmpty else { return false }
        switch route.match.pathSpecifier {
        case .prefix(let prefix)?: return prefix == "/"
        case .safeRegex(let regex)?: return regex.regex == ".*"
        default: return false
        }
    }
}

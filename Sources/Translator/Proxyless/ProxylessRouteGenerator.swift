import EnvoyAPI

/// RDS for proxyless gRPC: route configuration `HOST:PORT` with one virtual host whose domains
/// are the host and `HOST:PORT`, holding the service port's routes (`RouteBuilder`, gRPC dialect).
struct ProxylessRouteGenerator: ResourceGenerator {
    private let builder = RouteBuilder(dialect: .grpc)

    var typeURL: String { TypeURL.route }

    func generate(for view: ProxyView, in push: PushContext) -> [XDSResource] {
        var resources: [XDSResource] = []
        for service in view.services {
            for port in service.ports {
                let name = ListenerName.proxyless(host: service.host, port: port.number)
                let routes = builder.routes(for: service, port: port.number, view: view)
                var virtualHost = Envoy_Config_Route_V3_VirtualHost()
                virtualHost.name = name
                virtualHost.domains = [service.host, name]
                virtualHost.routes = routes
                var configuration = Envoy_Config_Route_V3_RouteConfiguration()
                configuration.name = name
                configuration.virtualHosts = [virtualHost]
                resources.append(XDSResource(name: name, message: configuration, dependencies: builder.clusters(in: routes)))
            }
        }
        return resources.sorted { $0.name < $1.name }
    }
}

import EnvoyAPI
import SwiftProtobuf

/// LDS for proxyless gRPC: for every visible service host:port an API listener named `HOST:PORT`
/// whose HttpConnectionManager fetches route configuration `HOST:PORT` over ADS and ends with
/// the Router filter (grpcio requires it last); and for a gRPC server, the inbound listeners of
/// the addresses it serves on (`InboundListeners`).
struct ProxylessListenerGenerator: ResourceGenerator {
    var typeURL: String { TypeURL.listener }

    func generate(for view: ProxyView, in push: PushContext) -> [XDSResource] {
        var resources: [XDSResource] = []
        for service in view.services {
            for port in service.ports {
                let name = ListenerName.proxyless(host: service.host, port: port.number)
                resources.append(XDSResource(name: name, message: Self.listener(name), dependencies: [name]))
            }
        }
        resources += InboundListeners.generate(for: view, in: push)
        return resources.sorted { $0.name < $1.name }
    }

    private static func listener(_ name: String) -> Envoy_Config_Listener_V3_Listener {
        var manager = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager()
        manager.statPrefix = name
        manager.rds.configSource = .adsV3
        manager.rds.routeConfigName = name
        manager.httpFilters = HTTPFilters.outbound(.grpc)

        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = name
        listener.apiListener.apiListener = AnyPacking.pack(manager)
        return listener
    }
}

import EnvoyAPI
import SwiftProtobuf

/// LDS for proxyless gRPC: for every visible service host:port an API listener named `HOST:PORT`
/// whose HttpConnectionManager fetches route configuration `HOST:PORT` over ADS and ends with
/// the Router filter (grpcio requires it last); and for a gRPC server, the inbound listeners of
/// the addresses it serves on (`InboundListeners`).
public struct ListenerGenerator: ResourceGenerator {
    public init() {}

    public var typeURL: String { TypeURL.listener }

    /// The Router HTTP filter's name.
    public static let routerFilterName = "envoy.filters.http.router"

    public func generate(for view: ProxyView, in push: PushContext) -> [XDSResource] {
        if view.key.kind == .sidecar { return EnvoyListenerGenerator().generate(for: view, in: push) }
        var resources: [XDSResource] = []
        for service in view.services {
            for port in service.ports {
                let name = ListenerName.proxyless(host: service.host, port: port.number)
                resources.append(XDSResource(name: name, message: listener(name, kind: view.key.kind), dependencies: [name]))
            }
        }
        resources += InboundListeners.generate(for: view, in: push)
        return resources.sorted { $0.name < $1.name }
    }

    /// The HTTP filters of every connection manager meshd sends a proxy of `kind` (proxyless
    /// and Envoy alike). The fault filter is always listed (empty), so a route's fault
    /// configuration acts the moment a VirtualService sets one, without a listener change;
    /// Envoy proxies also get the CORS filter (routes carry their policies; gRPC clients do not
    /// know it, see `RouteCors`); the router comes last.
    static func httpFilters(kind: Proxy.Kind) -> [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter] {
        var fault = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        fault.name = RouteFault.filterName
        fault.typedConfig = AnyPacking.pack(Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault())
        var router = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        router.name = routerFilterName
        router.typedConfig = AnyPacking.pack(Envoy_Extensions_Filters_Http_Router_V3_Router())
        return [fault] + (RouteCors.applies(to: kind) ? [RouteCors.httpFilter()] : []) + [router]
    }

    private func listener(_ name: String, kind: Proxy.Kind) -> Envoy_Config_Listener_V3_Listener {
        var manager = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager()
        manager.statPrefix = name
        manager.rds.configSource = .adsV3
        manager.rds.routeConfigName = name
        manager.httpFilters = Self.httpFilters(kind: kind)

        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = name
        listener.apiListener.apiListener = AnyPacking.pack(manager)
        return listener
    }
}

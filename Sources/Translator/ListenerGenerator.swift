import EnvoyAPI
import Foundation
import SwiftProtobuf

/// LDS for proxyless gRPC: for every service host:port an API listener named `HOST:PORT`
/// whose HttpConnectionManager fetches route configuration `HOST:PORT` over ADS and ends with
/// the Router filter (grpcio requires it last).
public struct ListenerGenerator: ResourceGenerator {
    public init() {}

    public var typeURL: String { TypeURL.listener }

    /// The Router HTTP filter's name.
    public static let routerFilterName = "envoy.filters.http.router"

    public func generate(for proxy: Proxy, in push: PushContext) -> [XDSResource] {
        var resources: [XDSResource] = []
        for service in push.registry.sortedServices {
            for port in service.ports {
                let name = ListenerName.proxyless(host: service.host, port: port.number)
                resources.append(XDSResource(name: name, message: listener(name), dependencies: [name]))
            }
        }
        return resources.sorted { $0.name < $1.name }
    }

    private func listener(_ name: String) -> Envoy_Config_Listener_V3_Listener {
        var manager = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager()
        manager.statPrefix = name
        manager.rds.configSource = .adsV3
        manager.rds.routeConfigName = name
        var router = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        router.name = Self.routerFilterName
        router.typedConfig = Self.pack(Envoy_Extensions_Filters_Http_Router_V3_Router())
        manager.httpFilters = [router]

        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = name
        listener.apiListener.apiListener = Self.pack(manager)
        return listener
    }

    /// Packs a message into an Any with the standard type URL prefix.
    static func pack(_ message: some SwiftProtobuf.Message) -> Google_Protobuf_Any {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        var any = Google_Protobuf_Any()
        any.typeURL = "type.googleapis.com/" + type(of: message).protoMessageName
        any.value = (try? message.serializedBytes(options: options) as Data) ?? Data()
        return any
    }
}

import EnvoyAPI
import SwiftProtobuf

/// LDS for Envoy sidecars, in istiod's shapes and names: the outbound listeners
/// (`EnvoyOutbound`), `virtualOutbound` (15001), `virtualInbound` (15006, `EnvoyInbound`: mTLS
/// by PeerAuthentication, RBAC by AuthorizationPolicy), and the proxy's own health (15021,
/// `/healthz/ready`) and Prometheus stats (15090, `/stats/prometheus`, forwarded to the admin
/// port) listeners. Telemetry's access loggers and tracer go into the outbound listeners (client
/// side) and `virtualInbound` (server side) (`TelemetryListeners`).
struct EnvoyListenerGenerator: ResourceGenerator {
    /// The mesh's trust domain: inbound mTLS accepts its identities only.
    let trustDomain: String

    var typeURL: String { TypeURL.listener }

    func generate(for view: ProxyView, in push: PushContext) -> [XDSResource] {
        // Only the outbound listeners name route configurations over RDS; the others route
        // inline or not at all, so their (large, on virtualInbound) filters are not decoded.
        let client = TelemetryListeners.additions(for: view, in: push, direction: .client)
        let server = TelemetryListeners.additions(for: view, in: push, direction: .server)
        let outbound = TelemetryListeners.decorate(EnvoyOutbound.listeners(for: view), with: client).map { listener in
            XDSResource(name: listener.name, message: listener, dependencies: Self.routeNames(listener))
        }
        let own =
            (TelemetryListeners.decorate([EnvoyOutbound.virtualOutbound(view.outboundTrafficPolicy ?? .allowAny)], with: client)
            + TelemetryListeners.decorate([EnvoyInbound.listener(view, push: push, trustDomain: trustDomain)], with: server)
            + [Self.health(), Self.stats()]).map { XDSResource(name: $0.name, message: $0) }
        return (outbound + own).sorted { $0.name < $1.name }
    }

    /// 15021: answers `/healthz/ready` with 200 itself (Istio's agent would ask Envoy; here
    /// Envoy answering at all is the readiness meshd can vouch for).
    static func health() -> Envoy_Config_Listener_V3_Listener {
        var ready = Envoy_Config_Route_V3_Route()
        ready.name = "ready"
        ready.match.path = "/healthz/ready"
        var ok = Envoy_Config_Route_V3_DirectResponseAction()
        ok.status = 200
        ready.directResponse = ok
        return local(port: EnvoyNames.healthPort, statPrefix: "agent", route: ready)
    }

    /// 15090: `/stats/prometheus` from Envoy's admin port, so scrapers never reach the admin API.
    static func stats() -> Envoy_Config_Listener_V3_Listener {
        var route = Envoy_Config_Route_V3_Route()
        route.name = "stats"
        route.match.prefix = "/stats/prometheus"
        route.route.cluster = EnvoyNames.prometheusStatsCluster
        return local(port: EnvoyNames.statsPort, statPrefix: "stats", route: route)
    }

    private static func local(port: UInt32, statPrefix: String, route: Envoy_Config_Route_V3_Route) -> Envoy_Config_Listener_V3_Listener {
        var host = Envoy_Config_Route_V3_VirtualHost()
        host.name = "backend"
        host.domains = ["*"]
        host.routes = [route]
        var routes = Envoy_Config_Route_V3_RouteConfiguration()
        routes.name = statPrefix
        routes.virtualHosts = [host]
        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = EnvoyNames.wildcardListener(port: port)
        listener.address = EnvoyFilters.address("0.0.0.0", port: port)
        listener.filterChains = [EnvoyFilters.chain(listener.name, EnvoyFilters.httpConnectionManager(statPrefix: statPrefix, routes: routes))]
        return listener
    }

    /// The RDS names a listener's connection managers ask for.
    static func routeNames(_ listener: Envoy_Config_Listener_V3_Listener) -> [String] {
        (listener.filterChains + [listener.defaultFilterChain]).flatMap(\.filters).compactMap { filter in
            guard filter.name == EnvoyFilters.httpConnectionManagerName,
                let manager = try? EnvoyFilters.Manager(serializedBytes: filter.typedConfig.value),
                case .rds(let rds)? = manager.routeSpecifier
            else { return nil }
            return rds.routeConfigName
        }
    }
}

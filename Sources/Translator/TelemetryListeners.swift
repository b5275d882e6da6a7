import EnvoyAPI
import MeshModel
import SwiftProtobuf

/// Puts a proxy's Telemetry into its listeners, as istiod does when it builds them: every
/// HttpConnectionManager gets the access loggers and the tracer of the listener's direction,
/// every tcp_proxy the access loggers (a sidecar's outbound listeners and every gateway listener
/// are the client side, `virtualInbound` the server side; the proxy's own health and stats
/// listeners get none). Without Telemetry, default providers or `accessLogFile`, listeners are
/// returned as they are, byte for byte.
enum TelemetryListeners {
    typealias Listener = Envoy_Config_Listener_V3_Listener

    /// The access loggers and tracing of a proxy's traffic in one direction.
    struct Additions {
        var accessLogs: [Envoy_Config_Accesslog_V3_AccessLog]
        var tracing: EnvoyFilters.Manager.Tracing?

        var isEmpty: Bool { accessLogs.isEmpty && tracing == nil }
    }

    /// What the Telemetries applying to `view`'s proxy add in `direction`.
    static func additions(for view: ProxyView, in push: PushContext, direction: Telemetry.WorkloadMode) -> Additions {
        let telemetries = push.telemetries.applicable(
            namespace: view.key.namespace, labels: view.key.policyLabels, rootNamespace: push.settings.rootNamespace)
        let policy = TelemetryPolicy.resolve(telemetries.map(\.spec), settings: push.settings, direction: direction)
        guard !policy.isEmpty else { return Additions(accessLogs: [], tracing: nil) }
        return Additions(
            accessLogs: TelemetryFilters.accessLogs(policy, settings: push.settings, registry: push.registry),
            tracing: TelemetryFilters.tracing(policy, settings: push.settings, registry: push.registry, gateway: view.key.kind == .gateway))
    }

    /// `listeners` with `additions` in their connection managers and TCP proxies.
    static func decorate(_ listeners: [Listener], with additions: Additions) -> [Listener] {
        guard !additions.isEmpty else { return listeners }
        return listeners.map { listener in
            var listener = listener
            listener.filterChains = listener.filterChains.map { decorate($0, with: additions) }
            if listener.hasDefaultFilterChain { listener.defaultFilterChain = decorate(listener.defaultFilterChain, with: additions) }
            return listener
        }
    }

    private static func decorate(_ chain: Envoy_Config_Listener_V3_FilterChain, with additions: Additions) -> Envoy_Config_Listener_V3_FilterChain {
        var chain = chain
        chain.filters = chain.filters.map { filter in
            var filter = filter
            switch filter.name {
            case EnvoyFilters.httpConnectionManagerName:
                guard var manager = try? EnvoyFilters.Manager(serializedBytes: filter.typedConfig.value) else { return filter }
                manager.accessLog += additions.accessLogs
                if let tracing = additions.tracing { manager.tracing = tracing }
                filter.typedConfig = AnyPacking.pack(manager)
            case EnvoyFilters.tcpProxyName:
                guard !additions.accessLogs.isEmpty,
                    var proxy = try? Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy(serializedBytes: filter.typedConfig.value)
                else { return filter }
                proxy.accessLog += additions.accessLogs
                filter.typedConfig = AnyPacking.pack(proxy)
            default:
                break
            }
            return filter
        }
        return chain
    }
}

import MeshModel

/// MSH0003–MSH0005: what the Gateway API routes' status says is wrong (a parent not accepted, a
/// reference not resolved), and a route and a VirtualService naming one host in one namespace
/// (one of them is set aside for some clients: docs/gateway-api.md). The status is the
/// configuration's own (`PushContext.routeStatuses`), so `meshctl analyze` and the routes'
/// status never disagree.
enum GatewayRouteAnalyzer {
    @Sendable static func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        let context = input.context
        for key in context.routeStatuses.keys.sorted() {
            for (index, parent) in (context.routeStatuses[key]?.parents ?? []).enumerated() {
                if let accepted = parent.condition("Accepted"), !accepted.isTrue {
                    messages.append(
                        AnalysisMessage(.gatewayRouteNotAccepted, key, field: "spec.parentRefs", "\(accepted.reason): \(accepted.message)"))
                }
                // One message per route, not per parent: the references are the route's.
                if index == 0, let resolved = parent.condition("ResolvedRefs"), !resolved.isTrue {
                    messages.append(AnalysisMessage(.gatewayRouteRefNotResolved, key, field: "spec.rules", "\(resolved.reason): \(resolved.message)"))
                }
            }
        }
        for host in context.routeVirtualServices.keys.sorted() {
            for route in context.routeVirtualServices[host] ?? [] {
                for (key, _, spec) in input.virtualServices
                where key.namespace == route.key.namespace && RouteMatchTranslation.reachesMesh(spec)
                    && spec.hosts.contains(where: { HostName.resolve($0, namespace: key.namespace) == host })
                {
                    messages.append(
                        AnalysisMessage(
                            .gatewayRouteHostConflict, route.key, field: "spec.parentRefs",
                            "host \(host) is routed by this route and by VirtualService \(key.namespace)/\(key.name): clients in namespace \(route.key.namespace) take the route; elsewhere the older of the two"
                        ))
                }
            }
        }
        return messages
    }
}

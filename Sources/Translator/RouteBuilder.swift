import Discovery
import EnvoyAPI
import MeshModel
import SwiftProtobuf

/// The HTTP routes of one service port, shared by every kind's RDS generator
/// (`ProxylessRouteGenerator`, `EnvoyRouteGenerator`): the same matches, weights and policies,
/// written in the proxy's dialect (hash policies gRPC can use, CORS only for Envoy).
///
/// Without a VirtualService the host gets one catch-all route to `outbound|PORT||HOST`. With one,
/// each `http[]` rule becomes one route per match (first match wins, in order), and its
/// destinations become weighted clusters. A destination that names no existing cluster (unknown
/// host, port or subset) is left out and the remaining weights keep their ratio; when none is
/// left the route answers with a direct 503 (Envoy returns 503, gRPC clients fail the RPC with
/// UNAVAILABLE) — meshd never names a cluster that does not exist.
struct RouteBuilder {
    /// The xDS the routes are written in.
    let dialect: ProxyDialect

    /// The routes of `service`'s port `port` as `view` sees them: its VirtualService's rules,
    /// else one catch-all route to the port's cluster. Every proxy kind's virtual host for the
    /// service carries exactly these (in its dialect). As istiod: a VirtualService with HTTP rules
    /// none of which applies to the port (each names another port, or another client) leaves the
    /// port its default route — a Gateway API route attached to port 80 leaves 8080 alone.
    func routes(for service: Service, port: UInt32, view: ProxyView) -> [Envoy_Config_Route_V3_Route] {
        if let entry = view.virtualServices[service.host] {
            let routes = virtualServiceRoutes(entry, port: port, binding: .mesh, view: view)
            if !routes.isEmpty || entry.spec.http.isEmpty { return routes }
        }
        let policy = view.destinationRule(service.host)?.spec.policy(subset: nil, port: port)
        return [
            defaultRoute(
                cluster: ClusterName.outbound(port: port, host: service.host),
                hashPolicies: policy.map(hashes) ?? [])
        ]
    }

    private func defaultRoute(cluster: String, hashPolicies: [Envoy_Config_Route_V3_RouteAction.HashPolicy]) -> Envoy_Config_Route_V3_Route {
        var route = Envoy_Config_Route_V3_Route()
        route.name = "default"
        route.match.prefix = "/"
        route.route.cluster = cluster
        route.route.hashPolicy = hashPolicies
        return route
    }

    /// The routes of a VirtualService's `http[]` rules for listener port `port` that apply to
    /// `binding` (the mesh, or the Gateways a gateway's route configuration serves), in order.
    func virtualServiceRoutes(
        _ entry: PushContext.VirtualServiceEntry, port: UInt32, binding: RouteBinding, view: ProxyView
    ) -> [Envoy_Config_Route_V3_Route] {
        var routes: [Envoy_Config_Route_V3_Route] = []
        for (index, rule) in entry.spec.http.enumerated() {
            let action = self.action(for: rule, namespace: entry.key.namespace, port: port, view: view)
            let matches = rule.match.isEmpty ? [nil] : rule.match.map(Optional.some)
            for match in matches {
                if let wanted = match?.port, wanted != port { continue }
                guard
                    RouteMatchTranslation.applies(
                        match, virtualServiceGateways: entry.spec.gateways, namespace: entry.key.namespace, binding: binding, view: view)
                else { continue }
                var route = Envoy_Config_Route_V3_Route()
                // As Istio names routes: the rule's name, then `.MATCH` when the match is named.
                let ruleName = rule.name ?? "\(entry.key.namespace)/\(entry.key.name)#\(index)"
                route.name = match?.name.map { "\(ruleName).\($0)" } ?? ruleName
                route.match = RouteMatchTranslation.routeMatch(match)
                if let fault = rule.fault {
                    route.typedPerFilterConfig[RouteFault.filterName] = AnyPacking.pack(RouteFault.config(fault))
                }
                if let cors = rule.corsPolicy, RouteCors.applies(to: dialect) {
                    route.typedPerFilterConfig[RouteCors.filterName] = AnyPacking.pack(RouteCors.config(cors))
                }
                // As Istio: the rule's header operations, then a lone destination's.
                if let headers = rule.headers { RouteHeaders.apply(RouteHeaders.translate(headers), to: &route) }
                if let redirect = rule.redirect {
                    route.redirect = RouteAnswer.redirect(redirect, listenerPort: port)
                } else if let response = rule.directResponse {
                    route.directResponse = RouteAnswer.directResponse(response)
                } else if case (let action, let loneHeaders)? = action {
                    if let loneHeaders { RouteHeaders.apply(loneHeaders, to: &route) }
                    route.route = action
                } else {
                    var direct = Envoy_Config_Route_V3_DirectResponseAction()
                    direct.status = 503
                    route.directResponse = direct
                }
                routes.append(route)
            }
        }
        return routes
    }

    /// The route action for a rule, or nil when none of its destinations resolves; with the
    /// header operations of the destination when only one is left (they go on the route).
    private func action(
        for rule: HTTPRoute, namespace: String, port: UInt32,
        view: ProxyView
    ) -> (Envoy_Config_Route_V3_RouteAction, RouteHeaders.Translated?)? {
        let single = rule.route.count == 1
        var weighted: [(cluster: String, weight: UInt32, headers: HeaderOperations?)] = []
        // As Istio: each destination's consistent-hash policy is added (once each).
        var hashPolicies: [Envoy_Config_Route_V3_RouteAction.HashPolicy] = []
        for destination in rule.route {
            // Validation bounds weights (int32, summing within uint32); clamping keeps config
            // stored under older rules from trapping here.
            let weight = UInt32(clamping: destination.weight ?? (single ? 100 : 0))
            guard weight > 0,
                case .success(let target) = DestinationResolver.target(
                    for: destination.destination, namespace: namespace, listenerPort: port, in: view)
            else { continue }
            let cluster = target.cluster
            if let policy = view.destinationRule(target.host)?.spec.policy(subset: target.subset, port: target.port) {
                for hash in hashes(policy) where !hashPolicies.contains(hash) { hashPolicies.append(hash) }
            }
            if let existing = weighted.firstIndex(where: { $0.cluster == cluster }) {
                let (sum, overflow) = weighted[existing].weight.addingReportingOverflow(weight)
                weighted[existing].weight = overflow ? .max : sum
            } else {
                weighted.append((cluster, weight, destination.headers))
            }
        }
        guard !weighted.isEmpty else { return nil }
        var action = Envoy_Config_Route_V3_RouteAction()
        RoutePolicy.apply(rule, to: &action)
        action.hashPolicy = hashPolicies
        action.requestMirrorPolicies = RouteMirror.policies(rule.mirrors, namespace: namespace, port: port, view: view)
        let ruleAuthority = rule.headers?.authority
        if weighted.count == 1 {
            action.cluster = weighted[0].cluster
            let lone = weighted[0].headers.map(RouteHeaders.translate)
            // As Istio: a lone destination's authority applies when the rule set none.
            RouteRewrite.apply(rule.rewrite, headerAuthority: ruleAuthority ?? lone?.authority, to: &action)
            return (action, lone)
        } else {
            RouteRewrite.apply(rule.rewrite, headerAuthority: ruleAuthority, to: &action)
            var clusters = Envoy_Config_Route_V3_WeightedCluster()
            let weights = WeightScaling.fitted([weighted.map(\.weight)])[0]
            clusters.clusters = zip(weighted, weights).map { item, fitted in
                var weight = Envoy_Config_Route_V3_WeightedCluster.ClusterWeight()
                weight.name = item.cluster
                weight.weight = Google_Protobuf_UInt32Value(fitted)
                if let headers = item.headers { RouteHeaders.apply(RouteHeaders.translate(headers), to: &weight) }
                return weight
            }
            action.weightedClusters = clusters
        }
        return (action, nil)
    }

    /// The clusters `routes` forward to, sorted.
    func clusters(in routes: [Envoy_Config_Route_V3_Route]) -> [String] {
        var names: [String] = []
        for route in routes {
            guard case .route(let action)? = route.action else { continue }
            names.append(contentsOf: action.requestMirrorPolicies.map(\.cluster))
            switch action.clusterSpecifier {
            case .cluster(let name)?: names.append(name)
            case .weightedClusters(let weighted)?: names.append(contentsOf: weighted.clusters.map(\.name))
            default: break
            }
        }
        return Array(Set(names)).sorted()
    }

    /// The hash policies of traffic governed by `policy` in the dialect: gRPC clients hash only on
    /// a header; Envoy also on a cookie, the source IP or a query parameter.
    private func hashes(_ policy: PolicySettings) -> [Envoy_Config_Route_V3_RouteAction.HashPolicy] {
        switch dialect {
        case .grpc: ProxylessTrafficPolicy.hashPolicies(policy)
        case .envoy: EnvoyTrafficPolicy.hashPolicies(policy)
        }
    }
}

import EnvoyAPI
import MeshModel

/// VirtualService header operations as Envoy's route and weighted-cluster fields, as istiod
/// writes them: `set` is `OVERWRITE_IF_EXISTS_OR_ADD`, `add` is `APPEND_IF_EXISTS_OR_ADD` (set
/// first, each sorted by name), `remove` lists names. A request `:authority`/`host` becomes the
/// host rewrite instead (Envoy refuses to modify pseudo-headers and `host`). gRPC clients ignore
/// all of it (grpc-core reads none of these fields); the apply answer says so.
enum RouteHeaders {
    /// The Envoy fields of one `headers` block.
    struct Translated: Equatable {
        var requestToAdd: [Envoy_Config_Core_V3_HeaderValueOption] = []
        var requestToRemove: [String] = []
        var responseToAdd: [Envoy_Config_Core_V3_HeaderValueOption] = []
        var responseToRemove: [String] = []
        /// The authority a request operation asks for.
        var authority: String?
    }

    static func translate(_ headers: HeaderOperations) -> Translated {
        var out = Translated()
        out.requestToAdd =
            options(headers.request.set, action: .overwriteIfExistsOrAdd)
            + options(headers.request.add, action: .appendIfExistsOrAdd)
        out.requestToRemove = headers.request.remove
        out.responseToAdd =
            options(headers.response.set, action: .overwriteIfExistsOrAdd)
            + options(headers.response.add, action: .appendIfExistsOrAdd)
        out.responseToRemove = headers.response.remove
        out.authority = headers.authority
        return out
    }

    /// Appends `headers`' operations to `route` (a rule's, then a lone destination's, as Istio).
    static func apply(_ headers: Translated, to route: inout Envoy_Config_Route_V3_Route) {
        route.requestHeadersToAdd += headers.requestToAdd
        route.requestHeadersToRemove += headers.requestToRemove
        route.responseHeadersToAdd += headers.responseToAdd
        route.responseHeadersToRemove += headers.responseToRemove
    }

    /// Sets one destination's operations on its weighted cluster.
    static func apply(_ headers: Translated, to weight: inout Envoy_Config_Route_V3_WeightedCluster.ClusterWeight) {
        weight.requestHeadersToAdd = headers.requestToAdd
        weight.requestHeadersToRemove = headers.requestToRemove
        weight.responseHeadersToAdd = headers.responseToAdd
        weight.responseHeadersToRemove = headers.responseToRemove
        if let authority = headers.authority { weight.hostRewriteLiteral = authority }
    }

    private static func options(
        _ map: [String: String],
        action: Envoy_Config_Core_V3_HeaderValueOption.HeaderAppendAction
    ) -> [Envoy_Config_Core_V3_HeaderValueOption] {
        map.keys.sorted().compactMap { name in
            guard let value = map[name], !HeaderOperations.isAuthority(name) else { return nil }
            var option = Envoy_Config_Core_V3_HeaderValueOption()
            option.header.key = name
            option.header.value = value
            option.appendAction = action
            return option
        }
    }
}

import EnvoyAPI
import MeshModel

/// A VirtualService rule that answers instead of forwarding — `redirect` or `directResponse` —
/// as Envoy's route actions. gRPC clients do not follow redirects or read direct responses: they
/// fail the RPCs such a route matches with UNAVAILABLE, which keeps the route from being skipped
/// (a skipped route would widen the ones after it). The apply answer says so per kind.
enum RouteAnswer {
    static func redirect(_ redirect: HTTPRedirect) -> Envoy_Config_Route_V3_RedirectAction {
        var action = Envoy_Config_Route_V3_RedirectAction()
        if let uri = redirect.uri { action.pathRedirect = uri }
        if let authority = redirect.authority { action.hostRedirect = authority }
        if let port = redirect.port { action.portRedirect = port }
        if let scheme = redirect.scheme { action.schemeRedirect = scheme }
        action.responseCode = switch redirect.redirectCode {
        case 302: .found
        case 303: .seeOther
        case 307: .temporaryRedirect
        case 308: .permanentRedirect
        default: .movedPermanently
        }
        return action
    }

    static func directResponse(_ response: HTTPDirectResponse) -> Envoy_Config_Route_V3_DirectResponseAction {
        var action = Envoy_Config_Route_V3_DirectResponseAction()
        action.status = response.status
        if let body = response.body { action.body.inlineString = body }
        return action
    }
}

import EnvoyAPI
import MeshModel

/// A VirtualService rule that answers instead of forwarding — `redirect` or `directResponse` —
/// as Envoy's route actions. gRPC clients do not follow redirects or read direct responses: they
/// fail the RPCs such a route matches with UNAVAILABLE, which keeps the route from being skipped
/// (a skipped route would widen the ones after it). The apply answer says so per kind.
enum RouteAnswer {
    /// The redirect of a route on `listenerPort`. As istiod: `derivePort: FROM_REQUEST_PORT` is
    /// the listener's port (routes are built per port); once a port is given the scheme defaults
    /// to `http` (mesh listeners are plaintext) and a scheme's default port is left out.
    static func redirect(_ redirect: HTTPRedirect, listenerPort: UInt32) -> Envoy_Config_Route_V3_RedirectAction {
        var action = Envoy_Config_Route_V3_RedirectAction()
        if let uri = redirect.uri { action.pathRedirect = uri }
        if let regex = redirect.pathRegexRewrite {
            var substitute = Envoy_Type_Matcher_V3_RegexMatchAndSubstitute()
            substitute.pattern = RouteMatchTranslation.regexMatcher(regex.match)
            substitute.substitution = regex.rewrite
            action.regexRewrite = substitute
        }
        if let authority = redirect.authority { action.hostRedirect = authority }
        if let scheme = redirect.scheme { action.schemeRedirect = scheme }
        var port = redirect.port
        if redirect.derivePort == .fromRequestPort { port = listenerPort }
        if let port {
            let scheme = redirect.scheme ?? "http"
            if !(port == 80 && scheme == "http") && !(port == 443 && scheme == "https") { action.portRedirect = port }
        }
        action.responseCode =
            switch redirect.redirectCode {
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

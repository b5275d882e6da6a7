/// What each kind of proxy makes of a Gateway API route's fields: the warnings an apply answers
/// with, at the route's own field paths (its rules are translated into Istio's shapes, whose
/// `ClientSupport` entries these mirror).
public enum GatewayRouteSupport {
    /// The fields meshd accepts without translating them (a backend's filters other than the
    /// header modifiers), and the fields some kind of client does not honour as written.
    public static func report(_ route: GatewayRoute) -> (notHonoured: [IstioSchema.Finding], clientLimits: [IstioSchema.ClientFinding]) {
        var notHonoured: [IstioSchema.Finding] = []
        var limits: [IstioSchema.ClientFinding] = []
        func grpc(_ path: String, _ support: FieldSupport) {
            limits += ClientSupport.findings([.proxylessGRPC: support], path: path)
        }
        func filters(_ list: [GatewayRoute.Filter], at base: String, onBackend: Bool = false) {
            for (index, filter) in list.enumerated() {
                let path = "\(base).filters[\(index)]"
                switch filter {
                // On a backend, meshd honours the header modifiers only (as istiod).
                case .redirect where onBackend: notHonoured.append(.init(path: "\(path).requestRedirect", name: "requestRedirect"))
                case .rewrite where onBackend: notHonoured.append(.init(path: "\(path).urlRewrite", name: "urlRewrite"))
                case .mirror where onBackend: notHonoured.append(.init(path: "\(path).requestMirror", name: "requestMirror"))
                case .requestHeaders: grpc("\(path).requestHeaderModifier", .notHonoured)
                case .responseHeaders: grpc("\(path).responseHeaderModifier", .notHonoured)
                case .rewrite: grpc("\(path).urlRewrite", .notHonoured)
                case .mirror: grpc("\(path).requestMirror", .notHonoured)
                case .redirect:
                    grpc(
                        "\(path).requestRedirect",
                        .substituted("gRPC clients fail the RPCs this rule matches with UNAVAILABLE (gRPC cannot follow a redirect)"))
                case .cors where onBackend: notHonoured.append(.init(path: "\(path).cors", name: "cors"))
                case .cors: grpc("\(path).cors", .notHonoured)
                case .extensionRef: continue  // a warning from the translation and the route's status: the rule answers 500
                }
            }
        }
        for (r, rule) in route.rules.enumerated() {
            let base = "spec.rules[\(r)]"
            for (m, match) in rule.matches.enumerated() where !match.queryParams.isEmpty {
                grpc("\(base).matches[\(m)].queryParams", .notHonoured)
            }
            filters(rule.filters, at: base)
            for (b, backend) in rule.backendRefs.enumerated() { filters(backend.filters, at: "\(base).backendRefs[\(b)]", onBackend: true) }
        }
        return (notHonoured, limits)
    }
}

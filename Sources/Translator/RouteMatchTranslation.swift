import EnvoyAPI
import MeshModel

/// Istio's `HTTPMatchRequest` as Envoy's `RouteMatch`, and whether a match applies to a proxy.
///
/// Conditions on the caller (`sourceLabels`, `sourceNamespace`, `gateways`) are decided here,
/// per view, because they are about who sends the request, not the request: a match that does
/// not apply to a proxy is left out of its routes — never widened into a catch-all.
enum RouteMatchTranslation {
    /// The reserved gateway name for sidecars and proxyless clients.
    static let mesh = RouteBinding.meshName

    /// Whether `match` (nil: a rule without matches) of a VirtualService in `namespace` applies
    /// to `binding` for proxies of `view`, given the VirtualService's own `gateways`.
    static func applies(
        _ match: HTTPMatchRequest?, virtualServiceGateways: [String], namespace: String, binding: RouteBinding, view: ProxyView
    ) -> Bool {
        callerConditionsHold(
            gateways: match?.gateways ?? [], sourceNamespace: match?.sourceNamespace,
            sourceLabels: match?.sourceLabels ?? [:], virtualServiceGateways: virtualServiceGateways, namespace: namespace,
            binding: binding, view: view)
    }

    /// The caller conditions every match kind (`http`, `tcp`, `tls`) shares: the gateways (a
    /// match's own list overrides the VirtualService's, resolved in the VirtualService's
    /// `namespace`) against the binding being built, the caller's namespace and labels.
    static func callerConditionsHold(
        gateways matchGateways: [String], sourceNamespace: String?, sourceLabels: [String: String],
        virtualServiceGateways: [String], namespace: String, binding: RouteBinding, view: ProxyView
    ) -> Bool {
        let gateways = matchGateways.isEmpty ? virtualServiceGateways : matchGateways
        guard binding.admits(gateways, namespace: namespace) else { return false }
        if let sourceNamespace, sourceNamespace != view.key.namespace { return false }
        return sourceLabels.allSatisfy { view.key.sourceLabels[$0.key] == $0.value }
    }

    /// Whether a VirtualService with these `gateways` can apply to mesh proxies at all (one of
    /// its matches may name `mesh` even when the VirtualService does not).
    static func reachesMesh(_ spec: VirtualService) -> Bool {
        spec.gateways.isEmpty || spec.gateways.contains(mesh)
            || spec.http.contains { $0.match.contains { $0.gateways.contains(mesh) } }
            || spec.tcp.contains { $0.match.contains { $0.gateways.contains(mesh) } }
            || spec.tls.contains { $0.match.contains { $0.connection.gateways.contains(mesh) } }
    }

    /// The Envoy route match of `match` (nil: every request).
    static func routeMatch(_ match: HTTPMatchRequest?) -> Envoy_Config_Route_V3_RouteMatch {
        var result = Envoy_Config_Route_V3_RouteMatch()
        switch match?.uri {
        case .exact(let path): result.path = path
        case .prefix(let prefix): result.prefix = prefix
        case .regex(let pattern): result.safeRegex = regexMatcher(pattern)
        case nil: result.prefix = "/"
        }
        guard let match else { return result }
        if match.ignoreUriCase { result.caseSensitive = .init(false) }
        // Method, authority and scheme are pseudo-headers to Envoy and gRPC alike.
        for (name, condition) in [(":method", match.method), (":authority", match.authority), (":scheme", match.scheme)] {
            if let condition { result.headers.append(headerMatcher(name, .value(condition), inverted: false)) }
        }
        for name in match.headers.keys.sorted() {
            if let condition = match.headers[name] { result.headers.append(headerMatcher(name, condition, inverted: false)) }
        }
        for name in match.withoutHeaders.keys.sorted() {
            if let condition = match.withoutHeaders[name] { result.headers.append(headerMatcher(name, condition, inverted: true)) }
        }
        for name in match.queryParams.keys.sorted() {
            guard let condition = match.queryParams[name] else { continue }
            var parameter = Envoy_Config_Route_V3_QueryParameterMatcher()
            parameter.name = name
            switch condition {
            case .present: parameter.presentMatch = true
            case .value(let value): parameter.stringMatch = stringMatcher(value)
            }
            result.queryParameters.append(parameter)
        }
        return result
    }

    private static func headerMatcher(_ name: String, _ condition: HeaderMatch, inverted: Bool) -> Envoy_Config_Route_V3_HeaderMatcher {
        var header = Envoy_Config_Route_V3_HeaderMatcher()
        header.name = name
        switch condition {
        case .present:
            header.presentMatch = true
        case .value(let value):
            header.stringMatch = stringMatcher(value)
        }
        header.invertMatch = inverted
        // As Istio: "without header X matching V" also holds when X is absent. (gRPC clients do
        // not read this flag: for them an absent header never matches, inverted or not.)
        if inverted, case .value = condition { header.treatMissingHeaderAsEmpty = true }
        return header
    }

    static func stringMatcher(_ match: StringMatch) -> Envoy_Type_Matcher_V3_StringMatcher {
        var matcher = Envoy_Type_Matcher_V3_StringMatcher()
        switch match {
        case .exact(let text): matcher.exact = text
        case .prefix(let text): matcher.prefix = text
        case .regex(let pattern): matcher.safeRegex = regexMatcher(pattern)
        }
        return matcher
    }

    /// Istio's `regex` (RE2 syntax) as Envoy's safe regex matcher.
    static func regexMatcher(_ pattern: String) -> Envoy_Type_Matcher_V3_RegexMatcher {
        var regex = Envoy_Type_Matcher_V3_RegexMatcher()
        regex.regex = pattern
        return regex
    }
}

import EnvoyAPI
import MeshModel

/// The JWT attributes of AuthorizationPolicy as RBAC `metadata` matchers on the payload Envoy's
/// `jwt_authn` verified (`envoy.filters.http.jwt_authn` → `payload`), istiod's shapes
/// (`pilot/pkg/security/authz/model`). A request without a verified token has no such metadata:
/// a matcher never matches it, its negation always does.
extension RBACTranslation {
    /// A `requestPrincipals` value (`ISS/SUB`, split at the last `/`, each side with Istio's
    /// `*` syntax): the token's `iss` and `sub` both match. A value without `/` is an issuer
    /// whose tokens have an empty subject (istiod's reading).
    static func requestPrincipal(_ value: String) -> Envoy_Config_Rbac_V3_Principal {
        let (issuer, subject): (Envoy_Type_Matcher_V3_StringMatcher, Envoy_Type_Matcher_V3_StringMatcher)
        if value == "*" {
            (issuer, subject) = (anyValue, anyValue)
        } else if let slash = value.lastIndex(of: "/") {
            let iss = String(value[..<slash])
            let sub = String(value[value.index(after: slash)...])
            (issuer, subject) = (iss == "*" ? anyValue : stringMatcher(iss), sub == "*" ? anyValue : stringMatcher(sub))
        } else if value.hasPrefix("*") {
            (issuer, subject) = (anyValue, stringMatcher(value))
        } else if value.hasSuffix("*") {
            (issuer, subject) = (stringMatcher(value), anyValue)
        } else {
            var empty = Envoy_Type_Matcher_V3_StringMatcher()
            empty.exact = ""
            (issuer, subject) = (stringMatcher(value), empty)
        }
        return andIDs([payload(["iss"], issuer), payload(["sub"], subject)])
    }

    /// The payload path a `request.auth.*` key reads: `aud`, `azp`, or the claim's
    /// `[a][b]` segments (dots are part of a claim name, not nesting); nil for
    /// `request.auth.principal`, which is `requestPrincipal`.
    static func claimPath(_ key: String) -> [String]? {
        switch key {
        case "request.auth.audiences": return ["aud"]
        case "request.auth.presenter": return ["azp"]
        default: break
        }
        let prefix = "request.auth.claims["
        guard key.hasPrefix(prefix), key.hasSuffix("]") else { return nil }
        let inner = String(key.dropFirst(prefix.count).dropLast())
        // `[a][b]` is a nested claim; a `[` inside a segment makes the whole text one name.
        let segments = inner.components(separatedBy: "][")
        if segments.contains(where: { $0.contains("[") || $0.contains("]") }) { return [inner] }
        return segments
    }

    /// The claim at `path` is one of `values`, or a list holding one of them.
    static func claim(_ path: [String], _ values: [String]) -> Envoy_Config_Rbac_V3_Principal {
        let each: [Envoy_Type_Matcher_V3_ValueMatcher] = values.map { value in
            var matcher = Envoy_Type_Matcher_V3_ValueMatcher()
            matcher.stringMatch = stringMatcher(value)
            return matcher
        }
        var single: Envoy_Type_Matcher_V3_ValueMatcher
        if each.count == 1 {
            single = each[0]
        } else {
            single = Envoy_Type_Matcher_V3_ValueMatcher()
            single.orMatch.valueMatchers = each
        }
        var list = Envoy_Type_Matcher_V3_ValueMatcher()
        list.listMatch.oneOf = single
        var either = Envoy_Type_Matcher_V3_ValueMatcher()
        either.orMatch.valueMatchers = [list, single]
        return metadata(path, either)
    }

    private static var anyValue: Envoy_Type_Matcher_V3_StringMatcher {
        var matcher = Envoy_Type_Matcher_V3_StringMatcher()
        matcher.safeRegex = RouteMatchTranslation.regexMatcher(".+")
        return matcher
    }

    /// The payload string at `path` matches `matcher`.
    private static func payload(_ path: [String], _ matcher: Envoy_Type_Matcher_V3_StringMatcher) -> Envoy_Config_Rbac_V3_Principal {
        var value = Envoy_Type_Matcher_V3_ValueMatcher()
        value.stringMatch = matcher
        return metadata(path, value)
    }

    private static func metadata(_ path: [String], _ value: Envoy_Type_Matcher_V3_ValueMatcher) -> Envoy_Config_Rbac_V3_Principal {
        var matcher = Envoy_Type_Matcher_V3_MetadataMatcher()
        matcher.filter = JWTAuthnFilter.name
        matcher.path = ([JWTAuthnFilter.payloadKey] + path).map { key in
            var segment = Envoy_Type_Matcher_V3_MetadataMatcher.PathSegment()
            segment.key = key
            return segment
        }
        matcher.value = value
        var principal = Envoy_Config_Rbac_V3_Principal()
        principal.metadata = matcher
        return principal
    }
}

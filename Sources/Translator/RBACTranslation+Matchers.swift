import EnvoyAPI
import MeshModel

/// The leaf matchers and combinators of `RBACTranslation`.
extension RBACTranslation {
    /// Istio's value syntax: `*` any non-empty value, `*suffix`, `prefix*`, else exact.
    static func stringMatcher(_ value: String, prefix: String = "") -> Envoy_Type_Matcher_V3_StringMatcher {
        var matcher = Envoy_Type_Matcher_V3_StringMatcher()
        if value == "*" {
            matcher.safeRegex = RouteMatchTranslation.regexMatcher(".+")
        } else if value.hasPrefix("*") {
            matcher.suffix = String(value.dropFirst())
        } else if value.hasSuffix("*") {
            matcher.prefix = prefix + value.dropLast()
        } else {
            matcher.exact = prefix + value
        }
        return matcher
    }

    static func headerMatcher(_ name: String, _ value: String) -> Envoy_Config_Route_V3_HeaderMatcher {
        var matcher = Envoy_Config_Route_V3_HeaderMatcher()
        matcher.name = name
        matcher.stringMatch = stringMatcher(value)
        return matcher
    }

    /// The peer certificate's identity, matched by `matcher`.
    private static func authenticated(_ matcher: Envoy_Type_Matcher_V3_StringMatcher) -> Envoy_Config_Rbac_V3_Principal {
        var principal = Envoy_Config_Rbac_V3_Principal()
        principal.authenticated.principalName = matcher
        return principal
    }

    private static func regex(_ pattern: String) -> Envoy_Type_Matcher_V3_StringMatcher {
        var matcher = Envoy_Type_Matcher_V3_StringMatcher()
        matcher.safeRegex = RouteMatchTranslation.regexMatcher(pattern)
        return matcher
    }

    /// A value of Istio's syntax as a regex fragment: `*` at either end is any text.
    private static func fragment(_ value: String) -> String {
        var body = Substring(value)
        let leading = body.hasPrefix("*")
        let trailing = body.count > 1 && body.hasSuffix("*")
        if leading { body = body.dropFirst() }
        if trailing { body = body.dropLast() }
        return (leading ? ".*" : "") + RegexEscaping.escape(String(body)) + (trailing ? ".*" : "")
    }

    /// `principals`: `cluster.local/ns/NS/sa/SA` is `spiffe://cluster.local/ns/NS/sa/SA`.
    static func principalName(_ value: String) -> Envoy_Config_Rbac_V3_Principal {
        authenticated(stringMatcher(value, prefix: spiffePrefix))
    }

    /// `namespaces`: any identity of that namespace.
    static func namespace(_ value: String) -> Envoy_Config_Rbac_V3_Principal {
        authenticated(regex(".*/ns/\(fragment(value))/.*"))
    }

    /// `serviceAccounts` (`NS/SA`): that account in any trust domain.
    static func serviceAccount(_ value: String) -> Envoy_Config_Rbac_V3_Principal {
        let parts = value.split(separator: "/", maxSplits: 1).map(String.init)
        let (namespace, account) = parts.count == 2 ? (parts[0], parts[1]) : (value, "")
        return authenticated(regex("spiffe://[^/]+/ns/\(RegexEscaping.escape(namespace))/sa/\(RegexEscaping.escape(account))"))
    }

    /// `trustDomains`: any identity of that trust domain.
    static func trustDomain(_ value: String) -> Envoy_Config_Rbac_V3_Principal {
        authenticated(regex("spiffe://\(fragment(value))/.*"))
    }

    /// An IP or CIDR block (`remote`: remoteIpBlocks, which gRPC reads as the peer address too).
    static func ip(_ value: String, remote: Bool) -> Envoy_Config_Rbac_V3_Principal {
        var principal = Envoy_Config_Rbac_V3_Principal()
        if remote { principal.remoteIp = cidr(value) } else { principal.directRemoteIp = cidr(value) }
        return principal
    }

    static func cidr(_ value: String) -> Envoy_Config_Core_V3_CidrRange {
        var range = Envoy_Config_Core_V3_CidrRange()
        let parts = value.split(separator: "/", maxSplits: 1)
        range.addressPrefix = String(parts[0])
        let full: UInt32 = parts[0].contains(":") ? 128 : 32
        range.prefixLen = .init(parts.count == 2 ? UInt32(parts[1]) ?? full : full)
        return range
    }

    // MARK: - Combinators (a single part stands alone; none matches anything)

    static func andIDs(_ ids: [Envoy_Config_Rbac_V3_Principal]) -> Envoy_Config_Rbac_V3_Principal {
        if ids.count == 1 { return ids[0] }
        var principal = Envoy_Config_Rbac_V3_Principal()
        if ids.isEmpty { principal.any = true } else { principal.andIds.ids = ids }
        return principal
    }

    static func orIDs(_ ids: [Envoy_Config_Rbac_V3_Principal]) -> Envoy_Config_Rbac_V3_Principal {
        if ids.count == 1 { return ids[0] }
        var principal = Envoy_Config_Rbac_V3_Principal()
        principal.orIds.ids = ids
        return principal
    }

    static func notID(_ id: Envoy_Config_Rbac_V3_Principal) -> Envoy_Config_Rbac_V3_Principal {
        var principal = Envoy_Config_Rbac_V3_Principal()
        principal.notID = id
        return principal
    }

    static func andRules(_ rules: [Envoy_Config_Rbac_V3_Permission]) -> Envoy_Config_Rbac_V3_Permission {
        if rules.count == 1 { return rules[0] }
        var permission = Envoy_Config_Rbac_V3_Permission()
        if rules.isEmpty { permission.any = true } else { permission.andRules.rules = rules }
        return permission
    }

    static func orRules(_ rules: [Envoy_Config_Rbac_V3_Permission]) -> Envoy_Config_Rbac_V3_Permission {
        if rules.count == 1 { return rules[0] }
        var permission = Envoy_Config_Rbac_V3_Permission()
        permission.orRules.rules = rules
        return permission
    }

    static func notRule(_ rule: Envoy_Config_Rbac_V3_Permission) -> Envoy_Config_Rbac_V3_Permission {
        var permission = Envoy_Config_Rbac_V3_Permission()
        permission.notRule = rule
        return permission
    }
}

/// RE2 escaping of literal text.
enum RegexEscaping {
    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            if "\\.+*?()|[]{}^$".contains(character) { result.append("\\") }
            result.append(character)
        }
        return result
    }
}

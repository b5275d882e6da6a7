import EnvoyAPI

/// A compact, readable form of RBAC rules: what `meshctl x authz check` prints and what the
/// translation tests compare against. `authn:exact:spiffe://…`, `not(…)`, `or(…)`, `and(…)`,
/// `path:prefix:/pkg.`, `port:50051`, `any`.
public enum RBACDescription {
    /// One line per policy, sorted by name: `NAME: PRINCIPALS -> PERMISSIONS` (alternatives
    /// separated by ` | `).
    public static func lines(_ rbac: Envoy_Config_Rbac_V3_RBAC) -> [String] {
        rbac.policies.keys.sorted().compactMap { name in
            guard let policy = rbac.policies[name] else { return nil }
            return
                "\(name): \(policy.principals.map(principal).joined(separator: " | ")) -> \(policy.permissions.map(permission).joined(separator: " | "))"
        }
    }

    static func matcher(_ m: Envoy_Type_Matcher_V3_StringMatcher) -> String {
        let text: String
        switch m.matchPattern {
        case .exact(let v): text = "exact:\(v)"
        case .prefix(let v): text = "prefix:\(v)"
        case .suffix(let v): text = "suffix:\(v)"
        case .safeRegex(let r): text = "regex:\(r.regex)"
        case .contains(let v): text = "contains:\(v)"
        case nil: text = "unset"
        }
        return m.ignoreCase ? text + "(any case)" : text
    }

    static func template(_ extensionConfig: Envoy_Config_Core_V3_TypedExtensionConfig) -> String {
        (try? Envoy_Extensions_Path_Match_UriTemplate_V3_UriTemplateMatchConfig(serializedBytes: extensionConfig.typedConfig.value))?.pathTemplate
            ?? "?"
    }

    static func cidr(_ c: Envoy_Config_Core_V3_CidrRange) -> String { "\(c.addressPrefix)/\(c.prefixLen.value)" }

    /// One principal.
    public static func principal(_ p: Envoy_Config_Rbac_V3_Principal) -> String {
        switch p.identifier {
        case .any: "any"
        case .andIds(let set): "and(\(set.ids.map(principal).joined(separator: ",")))"
        case .orIds(let set): "or(\(set.ids.map(principal).joined(separator: ",")))"
        case .notID(let inner): "not(\(principal(inner)))"
        case .authenticated(let a): "authn:\(matcher(a.principalName))"
        case .sourceIp(let c): "source-ip:\(cidr(c))"
        case .directRemoteIp(let c): "ip:\(cidr(c))"
        case .remoteIp(let c): "remote-ip:\(cidr(c))"
        case .header(let h): "header:\(h.name)=\(matcher(h.stringMatch))"
        case .urlPath(let path): "path:\(matcher(path.path))"
        case .metadata(let m): metadata(m)
        case nil: "unset"
        }
    }

    /// A metadata matcher: `jwt:iss=exact:…` for the verified payload, else `meta:FILTER:PATH=…`.
    static func metadata(_ m: Envoy_Type_Matcher_V3_MetadataMatcher) -> String {
        let path = m.path.map(\.key)
        let text =
            m.filter == "envoy.filters.http.jwt_authn" && path.first == "payload"
            ? "jwt:\(path.dropFirst().joined(separator: "."))=\(value(m.value))"
            : "meta:\(m.filter):\(path.joined(separator: "."))=\(value(m.value))"
        return m.invert ? "not(\(text))" : text
    }

    static func value(_ v: Envoy_Type_Matcher_V3_ValueMatcher) -> String {
        switch v.matchPattern {
        case .stringMatch(let s): matcher(s)
        case .listMatch(let l): "list-has(\(value(l.oneOf)))"
        case .orMatch(let o): "or(\(o.valueMatchers.map(value).joined(separator: ",")))"
        case .presentMatch(let present): present ? "present" : "absent"
        case .boolMatch(let b): "bool:\(b)"
        case .nullMatch: "null"
        case nil: "unset"
        }
    }

    /// One permission.
    public static func permission(_ p: Envoy_Config_Rbac_V3_Permission) -> String {
        switch p.rule {
        case .any: "any"
        case .andRules(let set): "and(\(set.rules.map(permission).joined(separator: ",")))"
        case .orRules(let set): "or(\(set.rules.map(permission).joined(separator: ",")))"
        case .notRule(let inner): "not(\(permission(inner)))"
        case .urlPath(let path): "path:\(matcher(path.path))"
        case .destinationPort(let port): "port:\(port)"
        case .header(let h): "header:\(h.name)=\(matcher(h.stringMatch))"
        case .destinationIp(let c): "dest-ip:\(cidr(c))"
        case .requestedServerName(let m): "sni:\(matcher(m))"
        case .uriTemplate(let t): "path-template:\(template(t))"
        case .metadata(let m): metadata(m)
        case nil: "unset"
        }
    }
}

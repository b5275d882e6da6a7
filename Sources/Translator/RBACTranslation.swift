import EnvoyAPI
import MeshModel

/// AuthorizationPolicy rules → Envoy RBAC policies (`envoy.config.rbac.v3`), the shapes istiod's
/// authz builder (`pilot/pkg/security/authz/model`) emits, restricted to what gRPC's RBAC
/// filter evaluates (gRFC A41).
///
/// One rule → one `Policy`: its `permissions` are the rule's `to` entries (any matches; none:
/// `any`), its `principals` the `from` entries (any matches; none: `any`). Within an entry
/// every set field must match (`and_rules` / `and_ids`), a field matches any of its values
/// (`or_rules` / `or_ids`), a `not…` field none of its values (`not_rule` / `not_id`). `when`
/// conditions join every principal (source and request attributes) or every permission
/// (destination attributes).
///
/// Fail-closed for what gRPC cannot evaluate (`requestPrincipals`, `notRequestPrincipals`,
/// `request.auth.*`, `connection.sni`), as Istio does where a proxy cannot check an attribute:
/// an ALLOW rule needing one is dropped (it allows nothing), a DENY rule is kept without it (it
/// denies more). The write path says so (`advisories`).
public enum RBACTranslation {
    /// The SPIFFE form of a principal value (`cluster.local/ns/NS/sa/SA`).
    static let spiffePrefix = "spiffe://"

    /// A rule's RBAC policy under `action`, or nil when an ALLOW rule needs what gRPC cannot check.
    public static func policy(_ rule: AuthorizationPolicy.Rule, action: AuthorizationPolicy.Action) -> Envoy_Config_Rbac_V3_Policy? {
        let allow = action != .deny
        var principalConditions: [Envoy_Config_Rbac_V3_Principal] = []
        var permissionConditions: [Envoy_Config_Rbac_V3_Permission] = []
        for condition in rule.when {
            if AuthorizationPolicy.isUncheckableByGRPC(conditionKey: condition.key) {
                if allow { return nil }
                continue
            }
            if let principal = principal(condition) { principalConditions.append(principal) }
            if let permission = permission(condition) { permissionConditions.append(permission) }
        }
        var principals: [Envoy_Config_Rbac_V3_Principal] = []
        for source in rule.from {
            if allow && !(source.requestPrincipals.isEmpty && source.notRequestPrincipals.isEmpty) { return nil }
            principals.append(andIDs(principalParts(source) + principalConditions))
        }
        if principals.isEmpty { principals = [andIDs(principalConditions)] }
        var permissions = rule.to.map { andRules(permissionParts($0) + permissionConditions) }
        if permissions.isEmpty { permissions = [andRules(permissionConditions)] }
        var policy = Envoy_Config_Rbac_V3_Policy()
        policy.permissions = permissions
        policy.principals = principals
        return policy
    }

    // MARK: - Sources

    private static func principalParts(_ source: AuthorizationPolicy.Source) -> [Envoy_Config_Rbac_V3_Principal] {
        var parts: [Envoy_Config_Rbac_V3_Principal] = []
        func add(_ values: [String], negated: Bool, _ make: (String) -> Envoy_Config_Rbac_V3_Principal) {
            guard !values.isEmpty else { return }
            let any = orIDs(values.map(make))
            parts.append(negated ? notID(any) : any)
        }
        add(source.principals, negated: false, principalName)
        add(source.notPrincipals, negated: true, principalName)
        add(source.namespaces, negated: false, namespace)
        add(source.notNamespaces, negated: true, namespace)
        add(source.serviceAccounts, negated: false, serviceAccount)
        add(source.notServiceAccounts, negated: true, serviceAccount)
        add(source.trustDomains, negated: false, trustDomain)
        add(source.notTrustDomains, negated: true, trustDomain)
        add(source.ipBlocks, negated: false) { ip($0, remote: false) }
        add(source.notIpBlocks, negated: true) { ip($0, remote: false) }
        add(source.remoteIpBlocks, negated: false) { ip($0, remote: true) }
        add(source.notRemoteIpBlocks, negated: true) { ip($0, remote: true) }
        return parts
    }

    /// A condition on the source or the request, as a principal; nil for destination keys.
    private static func principal(_ condition: AuthorizationPolicy.Condition) -> Envoy_Config_Rbac_V3_Principal? {
        let make: (String) -> Envoy_Config_Rbac_V3_Principal
        switch condition.key {
        case "source.principal": make = principalName
        case "source.namespace": make = namespace
        case "source.serviceAccount": make = serviceAccount
        case "source.ip": make = { ip($0, remote: false) }
        case "remote.ip": make = { ip($0, remote: true) }
        default:
            guard let header = condition.headerName else { return nil }
            make = { value in
                var principal = Envoy_Config_Rbac_V3_Principal()
                principal.header = headerMatcher(header, value)
                return principal
            }
        }
        return andIDs(matching(condition, make, any: orIDs, not: notID))
    }

    /// A condition on the destination, as a permission; nil for source and request keys.
    private static func permission(_ condition: AuthorizationPolicy.Condition) -> Envoy_Config_Rbac_V3_Permission? {
        let make: (String) -> Envoy_Config_Rbac_V3_Permission
        switch condition.key {
        case "destination.port": make = { port(UInt32($0) ?? 0) }
        case "destination.ip":
            make = { value in
                var permission = Envoy_Config_Rbac_V3_Permission()
                permission.destinationIp = cidr(value)
                return permission
            }
        default: return nil
        }
        return andRules(matching(condition, make, any: orRules, not: notRule))
    }

    /// `values` (any of) and `notValues` (none of) of a condition, made with `make`.
    private static func matching<T>(
        _ condition: AuthorizationPolicy.Condition, _ make: (String) -> T,
        any: ([T]) -> T, not: (T) -> T
    ) -> [T] {
        var parts: [T] = []
        if !condition.values.isEmpty { parts.append(any(condition.values.map(make))) }
        if !condition.notValues.isEmpty { parts.append(not(any(condition.notValues.map(make)))) }
        return parts
    }

    // MARK: - Operations

    private static func permissionParts(_ operation: AuthorizationPolicy.Operation) -> [Envoy_Config_Rbac_V3_Permission] {
        var parts: [Envoy_Config_Rbac_V3_Permission] = []
        func add<Value>(_ values: [Value], negated: Bool, _ make: (Value) -> Envoy_Config_Rbac_V3_Permission) {
            guard !values.isEmpty else { return }
            let any = orRules(values.map(make))
            parts.append(negated ? notRule(any) : any)
        }
        let host = { (value: String) in header(":authority", value, ignoreCase: true) }
        let method = { (value: String) in header(":method", value, ignoreCase: false) }
        add(operation.hosts, negated: false, host)
        add(operation.notHosts, negated: true, host)
        add(operation.ports, negated: false, port)
        add(operation.notPorts, negated: true, port)
        add(operation.methods, negated: false, method)
        add(operation.notMethods, negated: true, method)
        add(operation.paths, negated: false, path)
        add(operation.notPaths, negated: true, path)
        return parts
    }

    private static func header(_ name: String, _ value: String, ignoreCase: Bool) -> Envoy_Config_Rbac_V3_Permission {
        var permission = Envoy_Config_Rbac_V3_Permission()
        var matcher = headerMatcher(name, value)
        matcher.stringMatch.ignoreCase = ignoreCase
        permission.header = matcher
        return permission
    }

    private static func port(_ number: UInt32) -> Envoy_Config_Rbac_V3_Permission {
        var permission = Envoy_Config_Rbac_V3_Permission()
        permission.destinationPort = number
        return permission
    }

    private static func path(_ value: String) -> Envoy_Config_Rbac_V3_Permission {
        var permission = Envoy_Config_Rbac_V3_Permission()
        permission.urlPath.path = stringMatcher(value)
        return permission
    }
}

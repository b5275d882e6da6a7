import EnvoyAPI
import MeshModel

/// Which RBAC filter a rule is translated for. What the filter can check decides what falls
/// away from a rule, as in Istio's authz builder (`pilot/pkg/security/authz/model`).
public enum RBACTarget: Sendable, Hashable, CaseIterable {
    /// A proxyless gRPC server's HTTP RBAC filter (gRFC A41): no JWT, no SNI, no path templates
    /// (those become regexes).
    case grpc
    /// An Envoy proxy's HTTP RBAC filter (sidecar inbound HTTP chains, gateway connection
    /// managers): everything, the JWT attributes from `jwt_authn`'s metadata.
    case envoyHTTP
    /// An Envoy sidecar's network RBAC filter, on its TCP inbound chains: no request at all, so
    /// also no hosts, methods, paths or headers.
    case envoyTCP

    /// Whether the filter sees HTTP requests.
    var seesRequests: Bool { self != .envoyTCP }
    /// Whether the filter sees a verified JWT (`jwt_authn`'s metadata).
    var seesJWT: Bool { self == .envoyHTTP }
}

/// AuthorizationPolicy rules → Envoy RBAC policies (`envoy.config.rbac.v3`), the shapes istiod's
/// authz builder (`pilot/pkg/security/authz/model`) emits, for each `RBACTarget`.
///
/// One rule → one `Policy`: its `permissions` are the rule's `to` entries (any matches; none:
/// `any`), its `principals` the `from` entries (any matches; none: `any`). Within an entry
/// every set field must match (`and_rules` / `and_ids`), a field matches any of its values
/// (`or_rules` / `or_ids`), a `not…` field none of its values (`not_rule` / `not_id`). `when`
/// conditions join every principal (source and request attributes) or every permission
/// (destination attributes).
///
/// What the target cannot check fails closed, as Istio builds TCP filters: an ALLOW rule
/// needing it is dropped whole (it allows nothing), while a DENY or AUDIT rule is kept without
/// that field (it matches more). gRPC cannot check `requestPrincipals`, `request.auth.*` and
/// `connection.sni`; Envoy's network filter no request attribute at all (hosts, methods,
/// paths, headers, JWT). Envoy's HTTP filter checks everything: the JWT attributes are
/// `metadata` matchers on the payload `jwt_authn` verified.
/// The write path says so (`advisories`, `ClientSupport`).
public enum RBACTranslation {
    /// The SPIFFE form of a principal value (`cluster.local/ns/NS/sa/SA`).
    static let spiffePrefix = "spiffe://"

    /// Whether `target` can check the `when` key `key` (what the apply answer warns about is
    /// decided by the same predicates, in `AuthorizationPolicy+Advisories`).
    static func checks(conditionKey key: String, on target: RBACTarget) -> Bool {
        switch target {
        case .grpc: !AuthorizationPolicy.isUncheckableByGRPC(conditionKey: key)
        case .envoyHTTP: true
        case .envoyTCP: !AuthorizationPolicy.needsJWT(conditionKey: key) && !AuthorizationPolicy.isRequestOnly(conditionKey: key)
        }
    }

    /// A rule's RBAC policy under `action` for `target`, or nil when an ALLOW rule needs what
    /// the target cannot check.
    public static func policy(
        _ rule: AuthorizationPolicy.Rule, action: AuthorizationPolicy.Action, target: RBACTarget = .grpc
    ) -> Envoy_Config_Rbac_V3_Policy? {
        let dropsRule = action == .allow
        var principalConditions: [Envoy_Config_Rbac_V3_Principal] = []
        var permissionConditions: [Envoy_Config_Rbac_V3_Permission] = []
        for condition in rule.when {
            guard checks(conditionKey: condition.key, on: target) else {
                if dropsRule { return nil }
                continue
            }
            if let principal = principal(condition) { principalConditions.append(principal) }
            if let permission = permission(condition) { permissionConditions.append(permission) }
        }
        var principals: [Envoy_Config_Rbac_V3_Principal] = []
        for source in rule.from {
            if dropsRule && !target.seesJWT && !(source.requestPrincipals.isEmpty && source.notRequestPrincipals.isEmpty) { return nil }
            principals.append(andIDs(principalParts(source, target: target) + principalConditions))
        }
        if principals.isEmpty { principals = [andIDs(principalConditions)] }
        var permissions: [Envoy_Config_Rbac_V3_Permission] = []
        for operation in rule.to {
            if dropsRule && !target.seesRequests && operation.needsRequest { return nil }
            permissions.append(andRules(permissionParts(operation, target: target) + permissionConditions))
        }
        if permissions.isEmpty { permissions = [andRules(permissionConditions)] }
        var policy = Envoy_Config_Rbac_V3_Policy()
        policy.permissions = permissions
        policy.principals = principals
        return policy
    }

    // MARK: - Sources

    private static func principalParts(_ source: AuthorizationPolicy.Source, target: RBACTarget) -> [Envoy_Config_Rbac_V3_Principal] {
        var parts: [Envoy_Config_Rbac_V3_Principal] = []
        func add(_ values: [String], negated: Bool, _ make: (String) -> Envoy_Config_Rbac_V3_Principal) {
            guard !values.isEmpty else { return }
            let any = orIDs(values.map(make))
            parts.append(negated ? notID(any) : any)
        }
        add(source.principals, negated: false, principalName)
        add(source.notPrincipals, negated: true, principalName)
        if target.seesJWT {
            add(source.requestPrincipals, negated: false, requestPrincipal)
            add(source.notRequestPrincipals, negated: true, requestPrincipal)
        }
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
        case "request.auth.principal": make = requestPrincipal
        case _ where AuthorizationPolicy.needsJWT(conditionKey: condition.key):
            guard let path = claimPath(condition.key) else { return nil }
            var parts: [Envoy_Config_Rbac_V3_Principal] = []
            if !condition.values.isEmpty { parts.append(claim(path, condition.values)) }
            if !condition.notValues.isEmpty { parts.append(notID(claim(path, condition.notValues))) }
            return andIDs(parts)
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
        case "connection.sni":
            make = { value in
                var permission = Envoy_Config_Rbac_V3_Permission()
                permission.requestedServerName = stringMatcher(value)
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

    /// The operation's conditions; on a target without requests only the ports (the rest
    /// falls away, see the type's summary).
    private static func permissionParts(_ operation: AuthorizationPolicy.Operation, target: RBACTarget) -> [Envoy_Config_Rbac_V3_Permission] {
        var parts: [Envoy_Config_Rbac_V3_Permission] = []
        func add<Value>(_ values: [Value], negated: Bool, _ make: (Value) -> Envoy_Config_Rbac_V3_Permission) {
            guard !values.isEmpty else { return }
            let any = orRules(values.map(make))
            parts.append(negated ? notRule(any) : any)
        }
        guard target.seesRequests else {
            add(operation.ports, negated: false, port)
            add(operation.notPorts, negated: true, port)
            return parts
        }
        let host = { (value: String) in header(":authority", value, ignoreCase: true) }
        let method = { (value: String) in header(":method", value, ignoreCase: false) }
        let path = { (value: String) in self.path(value, target: target) }
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

    /// A path in Istio's syntax; a template (`{*}`, `{**}`) is Envoy's `uri_template` matcher,
    /// and for gRPC (which has none) the equivalent regex.
    private static func path(_ value: String, target: RBACTarget) -> Envoy_Config_Rbac_V3_Permission {
        var permission = Envoy_Config_Rbac_V3_Permission()
        guard let template = PathTemplate(value) else {
            permission.urlPath.path = stringMatcher(value)
            return permission
        }
        if target == .grpc {
            permission.urlPath.path.safeRegex = RouteMatchTranslation.regexMatcher(template.regex)
        } else {
            var config = Envoy_Extensions_Path_Match_UriTemplate_V3_UriTemplateMatchConfig()
            config.pathTemplate = template.envoyTemplate
            permission.uriTemplate.name = "uri-template"
            permission.uriTemplate.typedConfig = AnyPacking.pack(config)
        }
        return permission
    }
}

import EnvoyAPI
import MeshModel

/// The RBAC HTTP filters of a gRPC server's inbound listener, with Istio's evaluation order:
/// a request matching any DENY policy is denied (the DENY filter runs first); then, when any
/// ALLOW policy applies, it must match one (the ALLOW filter; an ALLOW policy whose rules all
/// fell away, or that has none, allows nothing); with no policy everything is allowed (no
/// filter). AUDIT policies change no decision and gRPC has no audit log: they add nothing (the
/// apply answer warns). CUSTOM is refused on write.
///
/// Each rule is one RBAC policy named `ns[NS]-policy[NAME]-rule[I]`, as istiod names them.
public enum AuthorizationFilters {
    /// The RBAC HTTP filter's name; the two filters are `….deny` and `….allow` (gRPC refuses
    /// two filters of one name in a connection manager).
    public static let filterName = "envoy.filters.http.rbac"

    /// The filters for `policies` (the ones that apply to the server), DENY first.
    public static func filters(_ policies: [AuthorizationIndex.Entry]) -> [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter] {
        var filters: [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter] = []
        for action in [AuthorizationPolicy.Action.deny, .allow] {
            let matching = policies.filter { $0.spec.action == action }
            guard !matching.isEmpty else { continue }
            filters.append(filter(rules(matching, action: action), action: action))
        }
        return filters
    }

    /// The RBAC rules of `policies` (all of one action).
    public static func rules(_ policies: [AuthorizationIndex.Entry], action: AuthorizationPolicy.Action) -> Envoy_Config_Rbac_V3_RBAC {
        var rbac = Envoy_Config_Rbac_V3_RBAC()
        rbac.action = action == .deny ? .deny : .allow
        for entry in policies {
            for (index, rule) in entry.spec.rules.enumerated() {
                guard let policy = RBACTranslation.policy(rule, action: action) else { continue }
                rbac.policies["ns[\(entry.key.namespace)]-policy[\(entry.key.name)]-rule[\(index)]"] = policy
            }
        }
        return rbac
    }

    private static func filter(_ rules: Envoy_Config_Rbac_V3_RBAC, action: AuthorizationPolicy.Action)
        -> Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter
    {
        var config = Envoy_Extensions_Filters_Http_Rbac_V3_RBAC()
        config.rules = rules
        var filter = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        filter.name = "\(filterName).\(action == .deny ? "deny" : "allow")"
        filter.typedConfig = AnyPacking.pack(config)
        return filter
    }
}

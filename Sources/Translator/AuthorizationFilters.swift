import EnvoyAPI
import MeshModel

/// The RBAC filters of a server's inbound chains, with Istio's evaluation order: a request
/// matching any DENY policy is denied (the DENY filter runs first); then, when any ALLOW policy
/// applies, it must match one (the ALLOW filter; an ALLOW policy whose rules all fell away, or
/// that has none, allows nothing); with no policy everything is allowed (no filter). AUDIT
/// policies change no decision: Envoy gets them as a LOG filter before the others (a matching
/// request is marked for the access log); gRPC servers have no audit log, so they get nothing
/// (the apply answer warns). CUSTOM goes to `ExtAuthzFilters` on Envoy; a gRPC server, which has
/// no external authorizer, denies what its rules select.
///
/// Each rule is one RBAC policy named `ns[NS]-policy[NAME]-rule[I]`, as istiod names them, and
/// all policies of one action share one filter.
public enum AuthorizationFilters {
    /// The RBAC HTTP filter's name; the filters are `….audit`, `….deny` and `….allow` (gRPC
    /// refuses two filters of one name in a connection manager).
    public static let filterName = "envoy.filters.http.rbac"
    /// The network RBAC filter's name (Envoy's TCP chains), suffixed the same way.
    public static let networkFilterName = "envoy.filters.network.rbac"
    /// The network filter's statistics prefix (Istio's).
    static let networkStatPrefix = "tcp."

    /// The actions that get a filter on `target`, in evaluation order.
    public static func actions(on target: RBACTarget) -> [AuthorizationPolicy.Action] {
        target == .grpc ? [.deny, .allow] : [.audit, .deny, .allow]
    }

    /// The HTTP filters for `policies` (the ones that apply to the server) on `target`
    /// (`.grpc` or `.envoyHTTP`), in evaluation order.
    public static func filters(_ policies: [AuthorizationIndex.Entry], target: RBACTarget = .grpc)
        -> [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter]
    {
        byAction(policies, target: target).map { action, rules in
            var config = Envoy_Extensions_Filters_Http_Rbac_V3_RBAC()
            config.rules = rules
            var filter = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
            filter.name = "\(filterName).\(suffix(action))"
            filter.typedConfig = AnyPacking.pack(config)
            return filter
        }
    }

    /// The network filters for `policies` on an Envoy TCP chain, in evaluation order.
    public static func networkFilters(_ policies: [AuthorizationIndex.Entry]) -> [Envoy_Config_Listener_V3_Filter] {
        byAction(policies, target: .envoyTCP).map { action, rules in
            var config = Envoy_Extensions_Filters_Network_Rbac_V3_RBAC()
            config.rules = rules
            config.statPrefix = networkStatPrefix
            var filter = Envoy_Config_Listener_V3_Filter()
            filter.name = "\(networkFilterName).\(suffix(action))"
            filter.typedConfig = AnyPacking.pack(config)
            return filter
        }
    }

    /// The RBAC rules of `policies` (all of one action) on `target`.
    public static func rules(
        _ policies: [AuthorizationIndex.Entry], action: AuthorizationPolicy.Action, target: RBACTarget = .grpc
    ) -> Envoy_Config_Rbac_V3_RBAC {
        var rbac = Envoy_Config_Rbac_V3_RBAC()
        rbac.action =
            switch action {
            case .deny: .deny
            case .audit: .log
            case .allow, .custom: .allow
            }
        for entry in policies {
            for (index, rule) in entry.spec.rules.enumerated() {
                guard let policy = RBACTranslation.policy(rule, action: action, target: target) else { continue }
                rbac.policies["ns[\(entry.key.namespace)]-policy[\(entry.key.name)]-rule[\(index)]"] = policy
            }
        }
        return rbac
    }

    /// The rules per action that has policies, in evaluation order.
    static func byAction(_ policies: [AuthorizationIndex.Entry], target: RBACTarget)
        -> [(AuthorizationPolicy.Action, Envoy_Config_Rbac_V3_RBAC)]
    {
        actions(on: target).compactMap { action in
            var matching = policies.filter { $0.spec.action == action }
            // A gRPC server has no external authorizer: what a CUSTOM policy selects is denied.
            if target == .grpc, action == .deny { matching += policies.filter { $0.spec.action == .custom } }
            return matching.isEmpty ? nil : (action, rules(matching, action: action, target: target))
        }
    }

    private static func suffix(_ action: AuthorizationPolicy.Action) -> String { action.rawValue.lowercased() }
}

import EnvoyAPI
import MeshModel

/// The security filters of one Envoy proxy (sidecar inbound chains or gateway listeners), built
/// once per proxy and shared by its chains, in istiod's order:
///
/// - HTTP: the CUSTOM pair (ext_authz), then `jwt_authn`, then RBAC AUDIT, DENY, ALLOW. So an
///   external authorizer sees the raw token, a request it denies is never verified, and RBAC
///   reads the verified JWT.
/// - TCP: the CUSTOM pair (gRPC providers), then network RBAC AUDIT, DENY, ALLOW.
///
/// The policies are those selecting the proxy (`ScopedPolicyIndex`): its namespace and labels.
public struct SecurityFilters: Sendable {
    /// The filters placed first in every HTTP connection manager.
    public var http: [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter]
    /// The filters placed before `tcp_proxy` on every TCP chain.
    public var network: [Envoy_Config_Listener_V3_Filter]

    /// The filters for a proxy in `namespace` with `labels` at `push`; `gateway` proxies clear
    /// the route cache after `jwt_authn` (routes may match on claims).
    public init(push: PushContext, namespace: String, labels: [String: String], gateway: Bool) {
        let root = push.settings.rootNamespace
        let authorization = push.authorizationPolicies.policies(namespace: namespace, labels: labels, rootNamespace: root)
        let authentication = push.requestAuthentications.policies(namespace: namespace, labels: labels, rootNamespace: root)
        self.init(authorization: authorization, authentication: authentication, push: push, gateway: gateway)
    }

    /// The filters for the given policies.
    public init(
        authorization: [AuthorizationIndex.Entry], authentication: [RequestAuthenticationIndex.Entry], push: PushContext, gateway: Bool
    ) {
        var http = ExtAuthzFilters.httpFilters(authorization, settings: push.settings, registry: push.registry)
        if let jwt = JWTAuthnFilter.filter(authentication, settings: push.settings, clearRouteCache: gateway) { http.append(jwt) }
        http += AuthorizationFilters.filters(authorization, target: .envoyHTTP)
        self.http = http
        network =
            ExtAuthzFilters.networkFilters(authorization, settings: push.settings, registry: push.registry)
            + AuthorizationFilters.networkFilters(authorization)
    }
}

/// What the apply answer says about an AuthorizationPolicy's conditions proxyless gRPC servers
/// cannot evaluate, and how meshd fails closed on them (as Istio does where a proxy cannot check
/// an attribute): an ALLOW rule needing one allows nothing, a DENY rule denies without it.
extension AuthorizationPolicy {
    /// Whether proxyless gRPC servers cannot evaluate a `when` key: `request.auth.*` needs the
    /// request's JWT (RequestAuthentication), `connection.sni` the TLS server name, neither of
    /// which gRPC's RBAC filter sees.
    public static func isUncheckableByGRPC(conditionKey key: String) -> Bool {
        key.hasPrefix(requestAuthenticationKeyPrefix) || key == "connection.sni"
    }

    /// One warning per field gRPC cannot check, naming the field and the fail-closed outcome;
    /// AUDIT is warned about by `ClientSupport`.
    public var advisories: [(field: String, message: String)] {
        guard action == .allow || action == .deny else { return [] }
        let outcome =
            action == .allow
            ? "substituted for proxyless gRPC servers: gRPC cannot check it, so this ALLOW rule allows nothing (fail-closed)"
            : "substituted for proxyless gRPC servers: gRPC cannot check it, so this DENY rule denies without checking it (fail-closed)"
        var result: [(field: String, message: String)] = []
        for (ruleIndex, rule) in rules.enumerated() {
            for (index, source) in rule.from.enumerated() {
                if !source.requestPrincipals.isEmpty {
                    result.append(("spec.rules[\(ruleIndex)].from[\(index)].source.requestPrincipals", outcome))
                }
                if !source.notRequestPrincipals.isEmpty {
                    result.append(("spec.rules[\(ruleIndex)].from[\(index)].source.notRequestPrincipals", outcome))
                }
            }
            for (index, condition) in rule.when.enumerated() where Self.isUncheckableByGRPC(conditionKey: condition.key) {
                result.append(("spec.rules[\(ruleIndex)].when[\(index)].key", outcome))
            }
        }
        return result
    }
}

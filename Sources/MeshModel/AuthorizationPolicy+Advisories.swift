/// What the apply answer says about an AuthorizationPolicy's conditions a kind of server cannot
/// evaluate, and how meshd fails closed on them (as Istio does where a proxy cannot check an
/// attribute): an ALLOW rule needing one allows nothing, a DENY rule denies without it.
extension AuthorizationPolicy {
    /// Whether proxyless gRPC servers cannot evaluate a `when` key: `request.auth.*` needs the
    /// request's verified JWT (gRPC has no JWT filter), `connection.sni` the TLS server name,
    /// neither of which gRPC's RBAC filter sees.
    public static func isUncheckableByGRPC(conditionKey key: String) -> Bool {
        key.hasPrefix(requestAuthenticationKeyPrefix) || key == "connection.sni"
    }

    /// Whether a `when` key names a request attribute a TCP connection does not have (the JWT
    /// ones are warned about on their own).
    public static func isRequestOnly(conditionKey key: String) -> Bool {
        key.hasPrefix("request.") && !key.hasPrefix(requestAuthenticationKeyPrefix)
    }

    /// Whether a `when` key reads the request's verified JWT (`request.auth.*`): Envoy's HTTP
    /// chains check it (RequestAuthentication's `jwt_authn` metadata); a TCP chain has no
    /// request and a gRPC server verifies no JWT.
    public static func needsJWT(conditionKey key: String) -> Bool {
        key.hasPrefix(requestAuthenticationKeyPrefix)
    }

    /// One warning per field some server cannot check, naming the field, the kinds and the
    /// fail-closed outcome; AUDIT is warned about by `ClientSupport`.
    public var advisories: [(field: String, message: String)] {
        guard action == .allow || action == .deny else { return [] }
        let outcome =
            action == .allow
            ? "so this ALLOW rule allows nothing there (fail-closed)"
            : "so this DENY rule denies without checking it there (fail-closed)"
        let jwt =
            "substituted for proxyless gRPC servers and Envoy TCP ports: a request's verified JWT (RequestAuthentication) is checked on Envoy's HTTP ports only, \(outcome)"
        let grpcOnly = "substituted for proxyless gRPC servers: gRPC cannot check it, \(outcome)"
        var result: [(field: String, message: String)] = []
        for (ruleIndex, rule) in rules.enumerated() {
            for (index, source) in rule.from.enumerated() {
                if !source.requestPrincipals.isEmpty {
                    result.append(("spec.rules[\(ruleIndex)].from[\(index)].source.requestPrincipals", jwt))
                }
                if !source.notRequestPrincipals.isEmpty {
                    result.append(("spec.rules[\(ruleIndex)].from[\(index)].source.notRequestPrincipals", jwt))
                }
            }
            for (index, condition) in rule.when.enumerated() where Self.isUncheckableByGRPC(conditionKey: condition.key) {
                result.append(
                    ("spec.rules[\(ruleIndex)].when[\(index)].key", Self.needsJWT(conditionKey: condition.key) ? jwt : grpcOnly))
            }
            if action == .deny, let field = rule.firstRequestOnlyField {
                result.append(
                    (
                        "spec.rules[\(ruleIndex)].\(field)",
                        "substituted for Envoy sidecars' TCP ports: a TCP connection has no request, so there this DENY rule denies without it (every connection its other conditions match), as in Istio"
                    ))
            }
        }
        return result
    }
}

extension AuthorizationPolicy.Rule {
    /// The first field (path below the rule) that names a request attribute — hosts, methods,
    /// paths, a request header — which an Envoy sidecar's TCP chains cannot check.
    var firstRequestOnlyField: String? {
        for (index, operation) in to.enumerated() {
            if let field = operation.requestOnlyField { return "to[\(index)].operation.\(field)" }
        }
        for (index, condition) in when.enumerated() where AuthorizationPolicy.isRequestOnly(conditionKey: condition.key) {
            return "when[\(index)].key"
        }
        return nil
    }
}

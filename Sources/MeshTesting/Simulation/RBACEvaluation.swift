import EnvoyAPI
import MeshModel

/// What an RBAC filter sees of a connection and, on HTTP chains, of its request.
public struct RBACContext: Sendable, Hashable {
    /// The peer certificate's URI SAN when the chain terminated TLS and the client presented
    /// one; nil for plaintext (then no `authenticated` principal matches).
    public var principal: String?
    /// The peer's address (`direct_remote_ip`, and `remote_ip` without XFF handling).
    public var sourceAddress: String
    public var destinationAddress: String
    public var destinationPort: UInt32
    /// SNI, when the connection was TLS.
    public var serverName: String?
    /// The request, on HTTP chains.
    public var request: SimulatedRequest?
    /// The dynamic metadata filters before RBAC wrote, by filter name (`jwt_authn`'s verified
    /// `payload`, the shadow RBAC's effective policy id).
    public var metadata: [String: JSONValue]

    public init(
        principal: String?, sourceAddress: String, destinationAddress: String, destinationPort: UInt32,
        serverName: String? = nil, request: SimulatedRequest? = nil, metadata: [String: JSONValue] = [:]
    ) {
        self.metadata = metadata
        self.principal = principal
        self.sourceAddress = sourceAddress
        self.destinationAddress = destinationAddress
        self.destinationPort = destinationPort
        self.serverName = serverName
        self.request = request
    }
}

/// Envoy's RBAC engine (`RoleBasedAccessControlEngineImpl`) over what meshd sends: a policy
/// matches when any permission and any principal match; an ALLOW filter lets through what some
/// policy matches, a DENY filter what none does, a LOG filter everything.
public enum RBACEvaluation {
    /// The verdict of one filter.
    public enum Verdict: Sendable, Hashable {
        case allowed
        /// Denied; the DENY policy that matched, nil when an ALLOW filter matched nothing.
        case denied(String?)
    }

    /// The verdict of `rbac` on `context`.
    public static func verdict(_ rbac: Envoy_Config_Rbac_V3_RBAC, _ context: RBACContext) -> Verdict {
        let matched = rbac.policies.keys.sorted().first { name in
            guard let policy = rbac.policies[name] else { return false }
            return policy.permissions.contains { permission($0, context) } && policy.principals.contains { principal($0, context) }
        }
        switch rbac.action {
        case .allow: return matched == nil ? .denied(nil) : .allowed
        case .deny: return matched.map { .denied($0) } ?? .allowed
        default: return .allowed
        }
    }

    static func principal(_ p: Envoy_Config_Rbac_V3_Principal, _ c: RBACContext) -> Bool {
        switch p.identifier {
        case .any(let any): return any
        case .andIds(let set): return set.ids.allSatisfy { principal($0, c) }
        case .orIds(let set): return set.ids.contains { principal($0, c) }
        case .notID(let inner): return !principal(inner, c)
        case .authenticated(let authenticated):
            guard let name = c.principal else { return false }
            // An unset matcher matches any authenticated peer.
            return authenticated.principalName.matchPattern == nil || TrafficSimulation.matches(authenticated.principalName, name)
        case .sourceIp(let range), .directRemoteIp(let range), .remoteIp(let range):
            return FilterChainSelection.contains(range, c.sourceAddress)
        case .header(let header): return matches(header, c)
        case .urlPath(let path): return matches(path, c)
        case .metadata(let matcher): return matches(matcher, c)
        case nil: return false
        }
    }

    /// Envoy's `MetadataMatcher`: the value at the path under the filter's metadata; a missing
    /// path matches nothing (then `invert` matches).
    static func matches(_ m: Envoy_Type_Matcher_V3_MetadataMatcher, _ c: RBACContext) -> Bool {
        var value = c.metadata[m.filter]
        for segment in m.path { value = value?[segment.key] }
        let found = value.map { matches(m.value, $0) } ?? false
        return m.invert ? !found : found
    }

    /// A `ValueMatcher` on a JSON value: strings only for string matchers, lists for list_match.
    static func matches(_ v: Envoy_Type_Matcher_V3_ValueMatcher, _ value: JSONValue) -> Bool {
        switch v.matchPattern {
        case .stringMatch(let matcher):
            if case .string(let text) = value { return TrafficSimulation.matches(matcher, text) }
            return false
        case .listMatch(let list):
            if case .array(let items) = value { return items.contains { matches(list.oneOf, $0) } }
            return false
        case .orMatch(let or): return or.valueMatchers.contains { matches($0, value) }
        case .presentMatch(let present): return present
        case .boolMatch(let expected):
            if case .bool(let actual) = value { return actual == expected }
            return false
        case .nullMatch:
            return value == .null
        case nil: return false
        }
    }

    /// A header matcher against the request (none on a TCP chain: no match).
    private static func matches(_ header: Envoy_Config_Route_V3_HeaderMatcher, _ c: RBACContext) -> Bool {
        c.request.map { TrafficSimulation.matches(header, headers: $0.allHeaders) } ?? false
    }

    /// A path matcher against the request's path without its query.
    private static func matches(_ path: Envoy_Type_Matcher_V3_PathMatcher, _ c: RBACContext) -> Bool {
        c.request.map { TrafficSimulation.matches(path.path, pathOnly($0.path)) } ?? false
    }

    static func permission(_ p: Envoy_Config_Rbac_V3_Permission, _ c: RBACContext) -> Bool {
        switch p.rule {
        case .any(let any): return any
        case .andRules(let set): return set.rules.allSatisfy { permission($0, c) }
        case .orRules(let set): return set.rules.contains { permission($0, c) }
        case .notRule(let inner): return !permission(inner, c)
        case .destinationPort(let port): return port == c.destinationPort
        case .destinationIp(let range): return FilterChainSelection.contains(range, c.destinationAddress)
        case .requestedServerName(let matcher): return TrafficSimulation.matches(matcher, c.serverName ?? "")
        case .header(let header): return matches(header, c)
        case .urlPath(let path): return matches(path, c)
        case .metadata(let matcher): return matches(matcher, c)
        case .uriTemplate(let config):
            guard let request = c.request,
                let template = try? Envoy_Extensions_Path_Match_UriTemplate_V3_UriTemplateMatchConfig(serializedBytes: config.typedConfig.value),
                let regex = PathTemplate(envoyTemplate: template.pathTemplate)?.regex
            else { return false }
            return RegexSyntax.fullMatch(regex, pathOnly(request.path)) ?? false
        case nil: return false
        }
    }

    /// The path without its query, as Envoy's `url_path` sees it.
    static func pathOnly(_ path: String) -> String {
        String(path.prefix { $0 != "?" })
    }
}

extension PathTemplate {
    /// The template Envoy's spelling stands for (`*` one segment, `**` one or more): what a
    /// test reads back from the bytes meshd sent.
    public init?(envoyTemplate: String) {
        let segments = envoyTemplate.split(separator: "/", omittingEmptySubsequences: false).map { segment -> String in
            switch segment {
            case "*": "{*}"
            case "**": "{**}"
            default: String(segment)
            }
        }
        self.init(segments.joined(separator: "/"))
    }
}

/// Istio `AuthorizationPolicy` (security.istio.io v1 and v1beta1): who may call what on the
/// workloads it selects.
///
/// Scope as in Istio: a policy in the mesh root namespace applies to every workload of the mesh
/// (with a selector: to those carrying its labels, in any namespace); elsewhere to the
/// workloads of its namespace (with a selector: those carrying its labels). Which policies
/// apply and what they become is the Translator's (`AuthorizationIndex`, `RBACTranslation`).
public struct AuthorizationPolicy: Sendable, Hashable {
    /// The actions Istio defines.
    public enum Action: String, Sendable, Hashable, CaseIterable {
        /// A request must match some ALLOW policy, when any applies.
        case allow = "ALLOW"
        /// A request matching any DENY policy is denied.
        case deny = "DENY"
        /// Logged by Envoy when matched; changes no decision.
        case audit = "AUDIT"
        /// Delegated to an external authorizer (`provider`).
        case custom = "CUSTOM"
    }

    /// One rule: a request matches when it matches a `from` (any), a `to` (any) and every `when`.
    /// An absent list matches everything.
    public struct Rule: Sendable, Hashable {
        public var from: [Source]
        public var to: [Operation]
        public var when: [Condition]

        public init(from: [Source] = [], to: [Operation] = [], when: [Condition] = []) {
            self.from = from
            self.to = to
            self.when = when
        }
    }

    /// `from[].source`: every non-empty field must match (values of one field: any).
    public struct Source: Sendable, Hashable {
        public var principals: [String] = []
        public var notPrincipals: [String] = []
        public var requestPrincipals: [String] = []
        public var notRequestPrincipals: [String] = []
        public var namespaces: [String] = []
        public var notNamespaces: [String] = []
        public var serviceAccounts: [String] = []
        public var notServiceAccounts: [String] = []
        public var ipBlocks: [String] = []
        public var notIpBlocks: [String] = []
        public var remoteIpBlocks: [String] = []
        public var notRemoteIpBlocks: [String] = []
        public var trustDomains: [String] = []
        public var notTrustDomains: [String] = []

        public init() {}
    }

    /// `to[].operation`: every non-empty field must match (values of one field: any).
    public struct Operation: Sendable, Hashable {
        public var hosts: [String] = []
        public var notHosts: [String] = []
        public var ports: [UInt32] = []
        public var notPorts: [UInt32] = []
        public var methods: [String] = []
        public var notMethods: [String] = []
        public var paths: [String] = []
        public var notPaths: [String] = []

        public init() {}
    }

    /// `when[]`: the attribute `key` must have one of `values` and none of `notValues`.
    public struct Condition: Sendable, Hashable {
        public var key: String
        public var values: [String]
        public var notValues: [String]

        public init(key: String, values: [String] = [], notValues: [String] = []) {
            self.key = key
            self.values = values
            self.notValues = notValues
        }
    }

    /// `selector.matchLabels`; nil without a selector.
    public var selector: [String: String]?
    /// `action` (ALLOW when absent).
    public var action: Action
    /// `rules`; an ALLOW policy without rules allows nothing, a DENY policy without rules denies nothing.
    public var rules: [Rule]
    /// `provider.name`: the mesh config's extension provider a CUSTOM policy delegates to.
    public var provider: String?

    /// Creates a policy.
    public init(selector: [String: String]? = nil, action: Action = .allow, rules: [Rule] = [], provider: String? = nil) {
        self.selector = selector
        self.action = action
        self.rules = rules
        self.provider = provider
    }

    /// Whether the policy selects particular workloads (a non-empty `matchLabels`).
    public var selectsWorkloads: Bool { !(selector ?? [:]).isEmpty }

    /// Conditions proxyless gRPC servers cannot evaluate (they need a request's JWT), by the
    /// `when` key prefix or source field that names them.
    public static let requestAuthenticationKeyPrefix = "request.auth."

    /// The `when` keys meshd knows (Istio's attributes); `request.headers[NAME]` and
    /// `request.auth.claims[NAME]` take a name.
    public static let conditionKeys: Set<String> = [
        "source.ip", "remote.ip", "source.namespace", "source.principal", "source.serviceAccount",
        "destination.ip", "destination.port", "connection.sni",
        "request.auth.principal", "request.auth.audiences", "request.auth.presenter",
    ]
}

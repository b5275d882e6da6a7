/// A Gateway API route, `HTTPRoute` or `GRPCRoute` (gateway.networking.k8s.io/v1), in its typed
/// form: the spec with the schema's defaults applied (`GatewaySchema`). One type serves both
/// kinds: a GRPCRoute is an HTTPRoute whose matches name gRPC methods and that has no redirect,
/// rewrite or timeouts.
public struct GatewayRoute: Sendable, Hashable {
    /// Which kind the route is.
    public enum Flavor: Sendable, Hashable { case http, grpc }

    /// A `parentRefs[]` entry: what the route attaches to (a Service, in the mesh).
    public struct ParentReference: Sendable, Hashable {
        public var group: String
        public var kind: String
        public var namespace: String?
        public var name: String
        public var sectionName: String?
        public var port: UInt32?

        public init(
            group: String = "", kind: String = "Service", namespace: String? = nil, name: String, sectionName: String? = nil, port: UInt32? = nil
        ) {
            self.group = group
            self.kind = kind
            self.namespace = namespace
            self.name = name
            self.sectionName = sectionName
            self.port = port
        }

        /// Whether the parent is a Service (core group): a route of the mesh (GAMMA).
        public var isService: Bool { group.isEmpty && kind == "Service" }
    }

    /// A reference to a backend object (`backendRefs[]`, a mirror's `backendRef`).
    public struct ObjectReference: Sendable, Hashable {
        public var group: String
        public var kind: String
        public var name: String
        public var namespace: String?
        public var port: UInt32?

        public init(group: String = "", kind: String = "Service", name: String, namespace: String? = nil, port: UInt32? = nil) {
            self.group = group
            self.kind = kind
            self.name = name
            self.namespace = namespace
            self.port = port
        }
    }

    /// A string match on a header or query parameter.
    public struct ValueMatch: Sendable, Hashable {
        public var name: String
        public var isRegex: Bool
        public var value: String
    }

    /// A path match.
    public enum PathMatch: Sendable, Hashable {
        case exact(String)
        case prefix(String)
        case regex(String)
    }

    /// A GRPCRoute's method match: service and method, exact or by regular expression.
    public struct MethodMatch: Sendable, Hashable {
        public var isRegex: Bool
        public var service: String?
        public var method: String?
    }

    /// One `matches[]` entry: every condition must hold.
    public struct Match: Sendable, Hashable {
        public var path: PathMatch?
        public var headers: [ValueMatch] = []
        public var queryParams: [ValueMatch] = []
        /// The HTTP method (HTTPRoute).
        public var method: String?
        /// The gRPC method (GRPCRoute).
        public var grpcMethod: MethodMatch?

        /// Creates a match (nothing set: every request).
        public init(
            path: PathMatch? = nil, headers: [ValueMatch] = [], queryParams: [ValueMatch] = [], method: String? = nil, grpcMethod: MethodMatch? = nil
        ) {
            self.path = path
            self.headers = headers
            self.queryParams = queryParams
            self.method = method
            self.grpcMethod = grpcMethod
        }
    }

    /// `RequestHeaderModifier` or `ResponseHeaderModifier`.
    public struct HeaderFilter: Sendable, Hashable {
        /// Headers set (replacing any value).
        public var set: [NameValue] = []
        /// Headers added (appended to any value).
        public var add: [NameValue] = []
        /// Headers removed, by name.
        public var remove: [String] = []
    }

    /// A header name and value.
    public struct NameValue: Sendable, Hashable {
        public var name: String
        public var value: String
    }

    /// A path modifier of a redirect or rewrite.
    public enum PathModifier: Sendable, Hashable {
        /// `ReplaceFullPath`.
        case fullPath(String)
        /// `ReplacePrefixMatch`: the matched prefix is replaced.
        case prefixMatch(String)
    }

    /// `RequestRedirect`.
    public struct Redirect: Sendable, Hashable {
        public var scheme: String?
        public var hostname: String?
        public var path: PathModifier?
        public var port: UInt32?
        public var statusCode: UInt32
    }

    /// `URLRewrite`.
    public struct Rewrite: Sendable, Hashable {
        public var hostname: String?
        public var path: PathModifier?
    }

    /// `CORS`: origins (`*`, or `SCHEME://HOST[:PORT]` whose host may start with `*.`),
    /// methods, headers allowed and exposed, how long a preflight answer may be cached.
    public struct CORS: Sendable, Hashable {
        public var allowOrigins: [String] = []
        public var allowMethods: [String] = []
        public var allowHeaders: [String] = []
        public var exposeHeaders: [String] = []
        /// Seconds (the API's default: 5).
        public var maxAge: Int64 = 5
        public var allowCredentials: Bool?
    }

    /// `RequestMirror`: a copy of the request to another backend, for a share of requests.
    public struct Mirror: Sendable, Hashable {
        public var backend: ObjectReference
        /// The share mirrored, 0–100 (100 when neither `percent` nor `fraction` is set).
        public var percentage: Double
    }

    /// One filter, with its path for warnings.
    public enum Filter: Sendable, Hashable {
        case requestHeaders(HeaderFilter)
        case responseHeaders(HeaderFilter)
        case redirect(Redirect)
        case rewrite(Rewrite)
        case mirror(Mirror)
        /// `CORS`: how the route answers cross-origin requests (Envoy's CORS filter).
        case cors(CORS)
        /// `ExtensionRef`: meshd knows no extension kinds.
        case extensionRef(group: String, kind: String, name: String)
    }

    /// A weighted backend with its own filters.
    public struct BackendReference: Sendable, Hashable {
        public var ref: ObjectReference
        public var weight: Int
        public var filters: [Filter]
    }

    /// One `rules[]` entry.
    public struct Rule: Sendable, Hashable {
        public var name: String?
        public var matches: [Match]
        public var filters: [Filter]
        public var backendRefs: [BackendReference]
        /// `timeouts.request` (Gateway API duration text).
        public var requestTimeout: String?
        /// `timeouts.backendRequest`.
        public var backendRequestTimeout: String?
    }

    /// A Gateway API duration (`1h`, `500ms`, `1m30s`) in milliseconds; nil when malformed.
    public static func milliseconds(_ duration: String) -> Int? { GatewayRules.milliseconds(duration) }

    public var flavor: Flavor
    public var parentRefs: [ParentReference]
    public var hostnames: [String]
    public var rules: [Rule]

    /// Every `ExtensionRef` filter, with its path (`spec.rules[0].filters[1].extensionRef`) and
    /// what it names (`example.org/Auth a`).
    public var extensionRefs: [(path: String, ref: String)] {
        var found: [(String, String)] = []
        func scan(_ filters: [Filter], _ base: String) {
            for (index, filter) in filters.enumerated() {
                if case .extensionRef(let group, let kind, let name) = filter {
                    found.append(("\(base).filters[\(index)].extensionRef", "\(group)/\(kind) \(name)"))
                }
            }
        }
        for (r, rule) in rules.enumerated() {
            scan(rule.filters, "spec.rules[\(r)]")
            for (b, backend) in rule.backendRefs.enumerated() { scan(backend.filters, "spec.rules[\(r)].backendRefs[\(b)]") }
        }
        return found
    }

    /// Every backend the route names, with the path of its reference (`spec.rules[0].backendRefs[1]`),
    /// mirrors included.
    public var referencedBackends: [(path: String, ref: ObjectReference)] {
        var found: [(String, ObjectReference)] = []
        func mirrors(_ filters: [Filter], _ base: String) {
            for (index, filter) in filters.enumerated() {
                if case .mirror(let mirror) = filter { found.append(("\(base).filters[\(index)].requestMirror.backendRef", mirror.backend)) }
            }
        }
        for (r, rule) in rules.enumerated() {
            mirrors(rule.filters, "spec.rules[\(r)]")
            for (b, backend) in rule.backendRefs.enumerated() {
                found.append(("spec.rules[\(r)].backendRefs[\(b)]", backend.ref))
                mirrors(backend.filters, "spec.rules[\(r)].backendRefs[\(b)]")
            }
        }
        return found
    }
}

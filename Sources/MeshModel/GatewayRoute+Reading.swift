extension GatewayRoute {
    /// Reads a spec `GatewaySchema` has checked and defaulted; what the schema cannot say
    /// (regular expressions RE2 refuses) is refused here, at its path.
    init(reading spec: FieldReader, flavor: Flavor) throws(MeshModelError) {
        self.flavor = flavor
        parentRefs = try spec["parentRefs"].list().map { r throws(MeshModelError) in
            ParentReference(
                group: try r["group"].string() ?? "gateway.networking.k8s.io", kind: try r["kind"].string() ?? "Gateway",
                namespace: try r["namespace"].string(), name: try r["name"].requiredString(),
                sectionName: try r["sectionName"].string(), port: try r["port"].port())
        }
        hostnames = try spec["hostnames"].strings()
        var rules: [Rule] = []
        for r in try spec["rules"].list() {
            var matches: [Match] = []
            for m in try r["matches"].list() { matches.append(try Self.match(m, flavor: flavor)) }
            var backends: [BackendReference] = []
            for b in try r["backendRefs"].list() {
                backends.append(
                    BackendReference(
                        ref: try Self.objectReference(b), weight: try b["weight"].integer() ?? 1, filters: try Self.filters(b["filters"])))
            }
            rules.append(
                Rule(
                    name: try r["name"].string(), matches: matches, filters: try Self.filters(r["filters"]), backendRefs: backends,
                    requestTimeout: try r["timeouts"]["request"].string(), backendRequestTimeout: try r["timeouts"]["backendRequest"].string()))
        }
        self.rules = rules
    }

    static func objectReference(_ r: FieldReader) throws(MeshModelError) -> ObjectReference {
        ObjectReference(
            group: try r["group"].string() ?? "", kind: try r["kind"].string() ?? "Service", name: try r["name"].requiredString(),
            namespace: try r["namespace"].string(), port: try r["port"].port())
    }

    private static func valueMatches(_ list: FieldReader) throws(MeshModelError) -> [ValueMatch] {
        var matches: [ValueMatch] = []
        for h in try list.list() {
            let isRegex = try h["type"].string() == "RegularExpression"
            let value = try h["value"].string() ?? ""
            if isRegex, let problem = RegexSyntax.problem(in: value) { throw h["value"].error(problem) }
            matches.append(ValueMatch(name: try h["name"].string() ?? "", isRegex: isRegex, value: value))
        }
        return matches
    }

    private static func match(_ m: FieldReader, flavor: Flavor) throws(MeshModelError) -> Match {
        var match = Match()
        match.headers = try valueMatches(m["headers"])
        match.queryParams = try valueMatches(m["queryParams"])
        if flavor == .http { match.method = try m["method"].string() }
        if flavor == .grpc, !m["method"].isAbsent {
            let isRegex = try m["method"]["type"].string() == "RegularExpression"
            let service = try m["method"]["service"].string()
            let method = try m["method"]["method"].string()
            if isRegex {
                for (field, value) in [("service", service), ("method", method)] {
                    if let value, let problem = RegexSyntax.problem(in: value) { throw m["method"][field].error(problem) }
                }
            }
            match.grpcMethod = MethodMatch(isRegex: isRegex, service: service, method: method)
        }
        if flavor == .http, !m["path"].isAbsent {
            let value = try m["path"]["value"].string() ?? "/"
            switch try m["path"]["type"].string() ?? "PathPrefix" {
            case "Exact": match.path = .exact(value)
            case "RegularExpression":
                if let problem = RegexSyntax.problem(in: value) { throw m["path"]["value"].error(problem) }
                match.path = .regex(value)
            default: match.path = .prefix(value)
            }
        }
        return match
    }

    private static func headerFilter(_ r: FieldReader) throws(MeshModelError) -> HeaderFilter {
        func pairs(_ list: FieldReader) throws(MeshModelError) -> [NameValue] {
            var pairs: [NameValue] = []
            for p in try list.list() {
                let value = try p["value"].string() ?? ""
                // Values are literal (meshd escapes `%` for Envoy); what no proxy can carry is refused.
                if let problem = HeaderOperations.valueProblem(value, formatted: false) { throw p["value"].error(problem) }
                pairs.append(NameValue(name: try p["name"].requiredString(), value: value))
            }
            return pairs
        }
        return HeaderFilter(set: try pairs(r["set"]), add: try pairs(r["add"]), remove: try r["remove"].strings())
    }

    private static func pathModifier(_ r: FieldReader) throws(MeshModelError) -> PathModifier? {
        guard !r.isAbsent else { return nil }
        let field = try r["type"].string() == "ReplaceFullPath" ? "replaceFullPath" : "replacePrefixMatch"
        let path = try r[field].string() ?? "/"
        if let problem = HeaderOperations.valueProblem(path, formatted: false) { throw r[field].error(problem) }
        return field == "replaceFullPath" ? .fullPath(path) : .prefixMatch(path)
    }

    static func filters(_ list: FieldReader) throws(MeshModelError) -> [Filter] {
        var filters: [Filter] = []
        for f in try list.list() {
            switch try f["type"].string() ?? "" {
            case "RequestHeaderModifier": filters.append(.requestHeaders(try headerFilter(f["requestHeaderModifier"])))
            case "ResponseHeaderModifier": filters.append(.responseHeaders(try headerFilter(f["responseHeaderModifier"])))
            case "RequestRedirect":
                let r = f["requestRedirect"]
                filters.append(
                    .redirect(
                        Redirect(
                            scheme: try r["scheme"].string(), hostname: try r["hostname"].string(), path: try pathModifier(r["path"]),
                            port: try r["port"].port(), statusCode: try r["statusCode"].uint32() ?? 302)))
            case "URLRewrite":
                let r = f["urlRewrite"]
                filters.append(.rewrite(Rewrite(hostname: try r["hostname"].string(), path: try pathModifier(r["path"]))))
            case "RequestMirror":
                let r = f["requestMirror"]
                var percentage = 100.0
                if let percent = try r["percent"].integer() { percentage = Double(percent) }
                if !r["fraction"].isAbsent {
                    let numerator = try r["fraction"]["numerator"].integer() ?? 0
                    let denominator = try r["fraction"]["denominator"].integer() ?? 100
                    guard denominator > 0 else { throw r["fraction"]["denominator"].error("must be greater than 0") }
                    percentage = 100 * Double(numerator) / Double(denominator)
                }
                filters.append(.mirror(Mirror(backend: try objectReference(r["backendRef"]), percentage: percentage)))
            case "CORS":
                let r = f["cors"]
                filters.append(
                    .cors(
                        CORS(
                            allowOrigins: try r["allowOrigins"].strings(), allowMethods: try r["allowMethods"].strings(),
                            allowHeaders: try r["allowHeaders"].strings(), exposeHeaders: try r["exposeHeaders"].strings(),
                            maxAge: Int64(try r["maxAge"].integer() ?? 5), allowCredentials: try r["allowCredentials"].boolean())))
            default:
                let r = f["extensionRef"]
                filters.append(
                    .extensionRef(group: try r["group"].string() ?? "", kind: try r["kind"].string() ?? "", name: try r["name"].string() ?? ""))
            }
        }
        return filters
    }
}

/// A Gateway API `ReferenceGrant` (gateway.networking.k8s.io/v1beta1): lets resources of the
/// `from` kinds in the `from` namespaces refer to the `to` objects of the grant's own namespace.
public struct ReferenceGrant: Sendable, Hashable {
    /// Who may refer: a group, kind and namespace.
    public struct From: Sendable, Hashable {
        public var group: String
        public var kind: String
        public var namespace: String
    }

    /// What may be referred to in the grant's namespace: a group and kind, one name or all.
    public struct To: Sendable, Hashable {
        public var group: String
        public var kind: String
        public var name: String?
    }

    public var from: [From]
    public var to: [To]

    init(reading spec: FieldReader) throws(MeshModelError) {
        from = try spec["from"].list().map { r throws(MeshModelError) in
            From(group: try r["group"].string() ?? "", kind: try r["kind"].requiredString(), namespace: try r["namespace"].requiredString())
        }
        to = try spec["to"].list().map { r throws(MeshModelError) in
            To(
                group: try r["group"].string() ?? "", kind: try r["kind"].requiredString(),
                name: try r["name"].string().flatMap { $0.isEmpty ? nil : $0 })
        }
    }

    /// Whether the grant lets a `fromKind` (in `fromGroup`) in `fromNamespace` refer to the
    /// object `name` of `toGroup`/`toKind` in the grant's namespace.
    public func permits(fromGroup: String, fromKind: String, fromNamespace: String, toGroup: String, toKind: String, name: String) -> Bool {
        from.contains { $0.group == fromGroup && $0.kind == fromKind && $0.namespace == fromNamespace }
            && to.contains { $0.group == toGroup && $0.kind == toKind && ($0.name == nil || $0.name == name) }
    }
}

import MeshModel

/// One Gateway API route rule's match, written as the Istio rule the mesh's route builder reads
/// (`docs/gateway-api.md`): the Gateway API's semantics in Istio's shapes, as istiod converts
/// them. A rule with several matches becomes one Istio rule per match, so rules of many routes
/// can be ordered by the API's precedence (`MeshRouteOrder`).
enum MeshRouteRules {
    /// A backend as the conversion found it.
    enum Backend: Hashable {
        /// A Service that exists (`host`, `port`).
        case service(Destination)
        /// Not routable: the reason and message `ResolvedRefs` reports.
        case invalid(reason: String, message: String)
    }

    /// What one converted match carries besides the Istio rule: what orders it.
    struct Converted: Hashable {
        var rule: HTTPRoute
        var order: MeshRouteOrder.Key
    }

    /// The converted rules of `route` for a parent on `port` (nil: every port), and the
    /// `ResolvedRefs` problems found. `resolve` turns a backend reference (with the path of
    /// the reference) into a destination.
    static func convert(
        _ route: GatewayRoute, key: ConfigKey, port: UInt32?, routeOrder: (revision: Int64, key: ConfigKey),
        resolve: (GatewayRoute.ObjectReference) -> Backend
    ) -> (rules: [Converted], problems: [(reason: String, message: String)]) {
        var converted: [Converted] = []
        var problems: [(reason: String, message: String)] = []
        for (ruleIndex, rule) in route.rules.enumerated() {
            var istio = HTTPRoute(name: rule.name ?? "\(key.namespace).\(key.name).\(ruleIndex)", route: [])
            var broken: String?
            // ReplacePrefixMatch needs the rule's one PathPrefix match (a CEL rule guarantees it).
            var prefix = "/"
            if case .prefix(let path)? = rule.matches.first?.path { prefix = path }
            apply(rule.filters, to: &istio, prefix: prefix, broken: &broken, resolve: resolve, problems: &problems)
            if istio.redirect == nil {
                var total = 0
                for backend in rule.backendRefs {
                    total += backend.weight
                    // A weight-0 backend takes no traffic and is not an error whatever it names; one
                    // that resolves stays (at 0) so tools show the split's idle side.
                    let resolved = resolve(backend.ref)
                    if backend.weight == 0, case .invalid = resolved { continue }
                    switch resolved {
                    case .service(let destination):
                        var headers = HeaderOperations()
                        var ignored: String?
                        var scratch = HTTPRoute(route: [])
                        apply(backend.filters, to: &scratch, prefix: prefix, broken: &ignored, resolve: resolve, problems: &problems)
                        headers = scratch.headers ?? headers
                        if ignored != nil { broken = ignored }
                        istio.route.append(
                            HTTPRouteDestination(
                                destination: destination, weight: backend.weight,
                                headers: headers.request.isEmpty && headers.response.isEmpty ? nil : headers))
                    case .invalid(let reason, let message):
                        problems.append((reason, message))
                    }
                }
                if rule.backendRefs.isEmpty || total == 0 || !istio.route.contains(where: { ($0.weight ?? 0) > 0 }) || broken != nil {
                    // The API: a rule whose backends are all invalid (or that has none, or whose
                    // filter cannot be honoured) answers 500.
                    istio.route = []
                    istio.directResponse = HTTPDirectResponse(status: 500)
                    istio.headers = nil
                    istio.rewrite = nil
                    istio.mirrors = []
                }
            }
            // As istiod: a non-zero backendRequest is the route's timeout, else a non-zero request.
            let backendTimeout = rule.backendRequestTimeout.flatMap(GatewayRoute.milliseconds) ?? 0
            let requestTimeout = rule.requestTimeout.flatMap(GatewayRoute.milliseconds) ?? 0
            let timeout = backendTimeout > 0 ? backendTimeout : requestTimeout
            if timeout > 0, istio.directResponse == nil, istio.redirect == nil {
                istio.timeout = "\(timeout)ms"
            }
            let matches = rule.matches.isEmpty ? [GatewayRoute.Match(path: route.flavor == .http ? .prefix("/") : nil)] : rule.matches
            for (matchIndex, match) in matches.enumerated() {
                var copy = istio
                copy.match = istioMatches(match, flavor: route.flavor, port: port)
                let order = MeshRouteOrder.Key(
                    match: match, flavor: route.flavor, revision: routeOrder.revision, route: routeOrder.key, rule: ruleIndex, match: matchIndex)
                converted.append(Converted(rule: copy, order: order))
            }
        }
        return (converted, problems)
    }

    /// Applies a filter list to an Istio rule; `broken` names a filter no proxy can honour
    /// (an unknown extension), which turns the rule into a 500 as the API asks.
    private static func apply(
        _ filters: [GatewayRoute.Filter], to rule: inout HTTPRoute, prefix: String, broken: inout String?,
        resolve: (GatewayRoute.ObjectReference) -> Backend, problems: inout [(reason: String, message: String)]
    ) {
        for filter in filters {
            switch filter {
            case .requestHeaders(let modifier):
                var headers = rule.headers ?? HeaderOperations()
                headers.request = operations(modifier)
                rule.headers = headers
            case .responseHeaders(let modifier):
                var headers = rule.headers ?? HeaderOperations()
                headers.response = operations(modifier)
                rule.headers = headers
            case .redirect(let redirect):
                rule.redirect = istioRedirect(redirect, prefix: prefix)
            case .rewrite(let rewrite):
                var istio = HTTPRewrite(authority: rewrite.hostname)
                switch rewrite.path {
                case .fullPath(let path): istio.uriRegexRewrite = .init(match: "^/.*$", rewrite: substitution(path))
                case .prefixMatch(let replacement): istio.uriRegexRewrite = prefixRegex(prefix: prefix, replacement: replacement)
                case nil: break
                }
                rule.rewrite = istio
            case .mirror(let mirror):
                switch resolve(mirror.backend) {
                case .service(let destination): rule.mirrors.append(HTTPMirrorPolicy(destination: destination, percentage: mirror.percentage))
                case .invalid(let reason, let message): problems.append((reason, message))
                }
            case .cors(let cors):
                rule.corsPolicy = CorsPolicy(
                    allowOrigins: cors.allowOrigins.map(origin), allowMethods: cors.allowMethods, allowHeaders: cors.allowHeaders,
                    exposeHeaders: cors.exposeHeaders, maxAgeSeconds: cors.maxAge, allowCredentials: cors.allowCredentials)
            case .extensionRef(let group, let kind, let name):
                broken = "\(group)/\(kind) \(name)"
                problems.append(
                    ("InvalidKind", "filter extensionRef \(group)/\(kind) \(name): meshd knows no extension filters; the rule answers 500"))
            }
        }
    }

    /// A CORS origin as a match: exact, or with its `*` (the whole origin, or the host's leading
    /// labels) standing for any text without a `/`.
    static func origin(_ text: String) -> StringMatch {
        guard text.contains("*") else { return .exact(text) }
        if text == "*" { return .regex(".+") }
        return .regex(text.split(separator: "*", omittingEmptySubsequences: false).map { RegexSyntax.literal(String($0)) }.joined(separator: "[^/]+"))
    }

    /// Header operations with the API's rules: names compare without case, the first entry for
    /// a name wins.
    private static func operations(_ modifier: GatewayRoute.HeaderFilter) -> HeaderOperations.Operations {
        var set: [String: String] = [:]
        var add: [String: String] = [:]
        // The API's values are literal; Envoy reads `%` as the start of a variable.
        func literal(_ value: String) -> String { value.replacingOccurrences(of: "%", with: "%%") }
        for pair in modifier.set where set[pair.name.lowercased()] == nil { set[pair.name.lowercased()] = literal(pair.value) }
        for pair in modifier.add where add[pair.name.lowercased()] == nil { add[pair.name.lowercased()] = literal(pair.value) }
        return HeaderOperations.Operations(set: set, add: add, remove: modifier.remove.map { $0.lowercased() })
    }

    private static func istioRedirect(_ redirect: GatewayRoute.Redirect, prefix: String) -> HTTPRedirect {
        var istio = HTTPRedirect(authority: redirect.hostname, scheme: redirect.scheme, redirectCode: redirect.statusCode)
        if let port = redirect.port {
            istio.port = port
        } else {
            // The API: without a port, a changed scheme takes its well-known port; else the request's.
            istio.derivePort = redirect.scheme == nil ? .fromRequestPort : .fromProtocolDefault
        }
        switch redirect.path {
        case .fullPath(let path): istio.uri = path
        case .prefixMatch(let replacement): istio.pathRegexRewrite = prefixRegex(prefix: prefix, replacement: replacement)
        case nil: break
        }
        return istio
    }

    /// `ReplacePrefixMatch` of the rule's one `PathPrefix` match, element-wise, written as a
    /// regular expression over the path (query excluded): for a replacement of `/`, `/prefix` →
    /// `/` and `/prefix/a` → `/a`; for `/new`, `/prefix/a` → `/new/a`.
    static func prefixRegex(prefix: String, replacement: String) -> HTTPRewrite.RegexRewrite {
        let trimmedPrefix = prefix == "/" ? "" : String(prefix.reversed().drop { $0 == "/" }.reversed())
        let trimmedReplacement = substitution(String(replacement.reversed().drop { $0 == "/" }.reversed()))
        let quoted = RegexSyntax.literal(trimmedPrefix)
        if trimmedReplacement.isEmpty { return .init(match: "^\(quoted)/?(.*)$", rewrite: "/\\1") }
        if trimmedPrefix.isEmpty { return .init(match: "^/(.*)$", rewrite: "\(trimmedReplacement)/\\1") }
        return .init(match: "^\(quoted)(/.*)?$", rewrite: "\(trimmedReplacement)\\1")
    }

    /// `text` as a literal in an RE2 substitution (where `\1` names a group).
    static func substitution(_ text: String) -> String { text.replacingOccurrences(of: "\\", with: "\\\\") }

    /// The Istio matches for one Gateway API match (a segment-aware prefix is two: the path
    /// itself, and the path followed by `/`), each on `port` when the parent names one.
    static func istioMatches(_ match: GatewayRoute.Match, flavor: GatewayRoute.Flavor, port: UInt32?) -> [HTTPMatchRequest] {
        var base = HTTPMatchRequest(port: port)
        for header in match.headers where base.headers[header.name.lowercased()] == nil {
            base.headers[header.name.lowercased()] = .value(header.isRegex ? .regex(header.value) : .exact(header.value))
        }
        for query in match.queryParams where base.queryParams[query.name] == nil {
            base.queryParams[query.name] = .value(query.isRegex ? .regex(query.value) : .exact(query.value))
        }
        if let method = match.method { base.method = .exact(method) }
        var uris: [StringMatch?] = [nil]
        switch match.path {
        case .exact(let path): uris = [.exact(path)]
        case .regex(let pattern): uris = [.regex(pattern)]
        case .prefix(let path):
            let trimmed = path == "/" ? "/" : String(path.reversed().drop { $0 == "/" }.reversed())
            uris = trimmed == "/" || trimmed.isEmpty ? [.prefix("/")] : [.exact(trimmed), .prefix(trimmed + "/")]
        case nil:
            if let method = match.grpcMethod { uris = [grpcPath(method)] }
        }
        return uris.map { uri in
            var copy = base
            copy.uri = uri
            return copy
        }
    }

    /// A GRPCRoute method match as a path match on `/SERVICE/METHOD`.
    static func grpcPath(_ match: GatewayRoute.MethodMatch) -> StringMatch? {
        switch (match.isRegex, match.service, match.method) {
        case (false, let service?, let method?): .exact("/\(service)/\(method)")
        case (false, let service?, nil): .prefix("/\(service)/")
        case (false, nil, let method?): .regex("/[^/]+/\(RegexSyntax.literal(method))")
        case (true, let service?, let method?): .regex("/\(service)/\(method)")
        case (true, let service?, nil): .regex("/\(service)/.+")
        case (true, nil, let method?): .regex("/[^/]+/\(method)")
        case (_, nil, nil): nil
        }
    }
}

import MeshModel

/// The Gateway API's precedence among the matches of every route attached to one Service: an
/// exact path before a prefix, a longer prefix before a shorter one, then a regular expression
/// (its precedence is the implementation's: istiod's), a method match before none, more header
/// matches, more query parameter matches; ties go to the oldest route, then `namespace/name`,
/// then rule and match order. For GRPCRoute: the longer service, the longer method, more header
/// matches, then the same ties.
enum MeshRouteOrder {
    /// What orders one converted match.
    struct Key: Hashable, Comparable {
        /// Exact 3, prefix 2, regex 1, no path condition 0.
        var pathRank: Int
        var pathLength: Int
        var methodLength: Int
        var hasMethod: Bool
        var headers: Int
        var queries: Int
        var revision: Int64
        var route: ConfigKey
        var rule: Int
        var match: Int

        init(match m: GatewayRoute.Match, flavor: GatewayRoute.Flavor, revision: Int64, route: ConfigKey, rule: Int, match: Int) {
            switch (flavor, m.path) {
            case (_, .exact(let path)?): (pathRank, pathLength) = (3, path.count)
            case (_, .prefix(let path)?):
                let trimmed = path == "/" ? path : String(path.reversed().drop { $0 == "/" }.reversed())
                (pathRank, pathLength) = (2, trimmed.count)
            case (_, .regex(let pattern)?): (pathRank, pathLength) = (1, pattern.count)
            case (_, nil):
                // gRPC: a service is the path's first element; method-only matches rank below.
                if let method = m.grpcMethod {
                    (pathRank, pathLength) = (method.service == nil ? 1 : 2, method.service?.count ?? 0)
                } else {
                    (pathRank, pathLength) = (0, 0)
                }
            }
            methodLength = m.grpcMethod?.method?.count ?? 0
            hasMethod = m.method != nil
            headers = m.headers.count
            queries = m.queryParams.count
            self.revision = revision
            self.route = route
            self.rule = rule
            self.match = match
        }

        /// Whether `a` takes precedence over `b`.
        static func < (a: Key, b: Key) -> Bool {
            if a.pathRank != b.pathRank { return a.pathRank > b.pathRank }
            if a.pathLength != b.pathLength { return a.pathLength > b.pathLength }
            if a.methodLength != b.methodLength { return a.methodLength > b.methodLength }
            if a.hasMethod != b.hasMethod { return a.hasMethod }
            if a.headers != b.headers { return a.headers > b.headers }
            if a.queries != b.queries { return a.queries > b.queries }
            return (a.revision, a.route, a.rule, a.match) < (b.revision, b.route, b.rule, b.match)
        }
    }
}

/// One request as a data plane sees it, for `TrafficSimulation`.
public struct SimulatedRequest: Sendable, Hashable, CustomStringConvertible {
    /// What the client dialed: for a proxyless gRPC client the xDS target `HOST:PORT`, which names
    /// its listener and is matched against virtual host domains.
    public var authority: String
    /// The request path (`/pkg.Service/Method` for gRPC).
    public var path: String
    /// Request headers by lower-case name (pseudo-headers `:method`, `:authority`, `:path` are
    /// derived from the other fields and need not be given).
    public var headers: [String: String]
    /// The HTTP method; gRPC always sends POST.
    public var method: String
    /// The headers the destination answers with (lower-case names), before the route's response
    /// header operations and CORS headers.
    public var responseHeaders: [String: String]

    public init(
        authority: String, path: String = "/echo.Echo/Who", headers: [String: String] = [:], method: String = "POST",
        responseHeaders: [String: String] = [:]
    ) {
        self.authority = authority
        self.path = path
        self.headers = headers
        self.method = method
        self.responseHeaders = responseHeaders
    }

    /// Every header as Envoy's matchers see it, pseudo-headers included.
    var allHeaders: [String: String] {
        var all = Dictionary(uniqueKeysWithValues: headers.map { ($0.key.lowercased(), $0.value) })
        all[":method"] = method
        all[":authority"] = authority
        all[":path"] = path
        return all
    }

    public var description: String {
        "\(method) \(authority)\(path)"
            + (headers.isEmpty ? "" : " " + headers.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))
    }
}

/// Where a simulated request ends up.
public enum SimulatedOutcome: Sendable, Hashable {
    /// Forwarded to one cluster, whose endpoints (`ADDRESS:PORT`, sorted) are listed.
    case cluster(String, endpoints: [String])
    /// Split over clusters by weight.
    case weighted([WeightedTarget])
    /// Answered by the proxy itself with this HTTP status.
    case directResponse(status: UInt32)
    /// Answered with a redirect to this location (`scheme://host:port/path`, parts not
    /// replaced left empty) and HTTP status.
    case redirect(location: String, status: UInt32)
    /// No listener of that name was sent.
    case noListener(String)
    /// The listener names a route configuration that was not sent.
    case noRouteConfiguration(String)
    /// No virtual host's domains match the authority.
    case noVirtualHost
    /// No route of the virtual host matches.
    case noRoute
    /// A route names a cluster that was not sent.
    case noCluster(String)
    /// No filter chain of the listener matches the connection and it has no default chain
    /// (Envoy closes the connection).
    case noFilterChain(String)
    /// The chain terminates TLS and the handshake fails (why: no client certificate, an
    /// identity the chain does not trust).
    case handshakeFailed(String)
    /// An RBAC filter refused it (HTTP 403, or the connection closed): the DENY policy that
    /// matched, nil when an ALLOW filter matched nothing.
    case denied(String?)

    /// One cluster of a weighted split.
    public struct WeightedTarget: Sendable, Hashable {
        public var cluster: String
        public var weight: UInt32

        public init(_ cluster: String, _ weight: UInt32) {
            self.cluster = cluster
            self.weight = weight
        }
    }
}

/// A simulated request's outcome and the route that decided it.
public struct SimulationResult: Sendable, Hashable {
    /// The name of the matching route, nil when none matched.
    public var route: String?
    public var outcome: SimulatedOutcome
    /// The fault the route injects (fault filter configuration on the route), if any.
    public var fault: SimulatedFault?
    /// The request as the destination receives it (path and host after rewrites, headers after
    /// the request header operations); nil when the proxy does not forward it.
    public var forwarded: SimulatedForward?
    /// Where copies of the request go, and what share of requests is copied.
    public var mirrors: [SimulatedMirror]
    /// The response headers the client gets (the request's `responseHeaders` after the response
    /// header operations, plus CORS headers); nil when nothing answers.
    public var responseHeaders: [String: String]?
    /// What the CORS filter decided, nil when it did not act (no policy, no filter, no Origin).
    public var cors: SimulatedCORS?

    public init(
        route: String?, outcome: SimulatedOutcome, fault: SimulatedFault? = nil, forwarded: SimulatedForward? = nil,
        mirrors: [SimulatedMirror] = [], responseHeaders: [String: String]? = nil, cors: SimulatedCORS? = nil
    ) {
        self.route = route
        self.outcome = outcome
        self.fault = fault
        self.forwarded = forwarded
        self.mirrors = mirrors
        self.responseHeaders = responseHeaders
        self.cors = cors
    }
}

/// What the fault filter does to a route's requests: parts per million delayed or aborted.
public struct SimulatedFault: Sendable, Hashable {
    /// Delay in milliseconds and the share delayed (per million), when a delay is set.
    public var delay: (milliseconds: Int64, perMillion: UInt32)?
    /// `http:CODE` or `grpc:CODE` and the share aborted (per million), when an abort is set.
    public var abort: (status: String, perMillion: UInt32)?

    public init(delay: (milliseconds: Int64, perMillion: UInt32)? = nil, abort: (status: String, perMillion: UInt32)? = nil) {
        self.delay = delay
        self.abort = abort
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.delay?.milliseconds == b.delay?.milliseconds && a.delay?.perMillion == b.delay?.perMillion
            && a.abort?.status == b.abort?.status && a.abort?.perMillion == b.abort?.perMillion
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(delay?.milliseconds)
        hasher.combine(abort?.status)
    }
}

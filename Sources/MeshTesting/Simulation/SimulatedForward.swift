/// A request as the proxy forwards it: after `prefix_rewrite`/`regex_rewrite`, the host rewrite
/// and the request header operations (those of the chosen weighted cluster, then the route's).
public struct SimulatedForward: Sendable, Hashable {
    /// The path sent (query string kept).
    public var path: String
    /// The authority (Host) sent.
    public var authority: String
    /// The headers sent, by lower-case name (appended values joined with `,`).
    public var headers: [String: String]

    public init(path: String, authority: String, headers: [String: String]) {
        self.path = path
        self.authority = authority
        self.headers = headers
    }
}

/// One request mirror policy of the matched route.
public struct SimulatedMirror: Sendable, Hashable {
    /// The cluster copies go to (checked to exist among the clusters sent).
    public var cluster: String
    /// The share copied, per million.
    public var perMillion: UInt32
    /// Whether the cluster was sent (Envoy drops copies to a missing cluster).
    public var clusterExists: Bool

    public init(cluster: String, perMillion: UInt32, clusterExists: Bool = true) {
        self.cluster = cluster
        self.perMillion = perMillion
        self.clusterExists = clusterExists
    }
}

/// What Envoy's CORS filter does with a request from an `Origin`.
public enum SimulatedCORS: Sendable, Hashable {
    /// A preflight (`OPTIONS` with `access-control-request-method`) from an allowed origin: the
    /// proxy answers 200 with these headers.
    case preflightAllowed(headers: [String: String])
    /// A preflight from an origin not allowed: forwarded to the destination
    /// (`forward_not_matching_preflights`), or answered 200 without CORS headers.
    case preflightDenied(forwarded: Bool)
    /// A request from an allowed origin: the response carries these headers.
    case allowed(headers: [String: String])
    /// A request from an origin not allowed: forwarded, the response carries no CORS headers.
    case denied
}

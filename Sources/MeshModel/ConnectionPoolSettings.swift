/// Istio `ConnectionPoolSettings`, validated with Istio's rules (`validateConnectionPool`).
///
/// Only `http.http2MaxRequests` reaches proxyless gRPC clients (as a circuit breaker); the
/// rest is validated and kept for Envoy (see `ClientSupport`).
public struct ConnectionPoolSettings: Sendable, Hashable {
    /// `tcp`.
    public struct TCP: Sendable, Hashable {
        /// `maxConnections` (int32, not negative).
        public var maxConnections: Int32?
        /// `connectTimeout`.
        public var connectTimeout: Duration?
        /// `maxConnectionDuration`.
        public var maxConnectionDuration: Duration?
        /// `idleTimeout` (0 disables).
        public var idleTimeout: Duration?
        /// `tcpKeepalive` (`probes`, `time`, `interval`), present or not.
        public var hasKeepalive: Bool
    }

    /// `http`.
    public struct HTTP: Sendable, Hashable {
        /// `http1MaxPendingRequests`.
        public var http1MaxPendingRequests: Int32?
        /// The most concurrent requests to the destination; 0 or nil means the default.
        public var http2MaxRequests: Int32?
        /// `maxRequestsPerConnection`.
        public var maxRequestsPerConnection: Int32?
        /// `maxRetries`.
        public var maxRetries: Int32?
        /// `maxConcurrentStreams`.
        public var maxConcurrentStreams: Int32?
        /// `idleTimeout`.
        public var idleTimeout: Duration?
        /// `h2UpgradePolicy` (`DEFAULT`, `DO_NOT_UPGRADE`, `UPGRADE`).
        public var h2UpgradePolicy: String?
        /// `useClientProtocol`.
        public var useClientProtocol: Bool?
    }

    /// `tcp`, nil when absent.
    public var tcp: TCP?
    /// `http`, nil when absent.
    public var http: HTTP?

    /// Creates connection-pool settings.
    public init(tcp: TCP? = nil, http: HTTP? = nil) {
        self.tcp = tcp
        self.http = http
    }
}

extension ConnectionPoolSettings.HTTP {
    /// Settings with only `http2MaxRequests` (tests, fixtures).
    public init(http2MaxRequests: Int32?) {
        self.init(http1MaxPendingRequests: nil, http2MaxRequests: http2MaxRequests, maxRequestsPerConnection: nil,
                  maxRetries: nil, maxConcurrentStreams: nil, idleTimeout: nil, h2UpgradePolicy: nil, useClientProtocol: nil)
    }
}

extension ConnectionPoolSettings {
    /// Reads `connectionPool`; nil when absent.
    init?(readingIfPresent r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { return nil }
        guard !r["tcp"].isAbsent || !r["http"].isAbsent else { throw r.error("connection pool must have at least one field") }
        if try r["tcp"].object() != nil {
            let t = r["tcp"]
            let keepalive = t["tcpKeepalive"]
            if try keepalive.object() != nil {
                _ = try keepalive["probes"].uint32()
                _ = try keepalive["time"].duration()
                _ = try keepalive["interval"].duration()
            }
            // A zero idle timeout disables it (Istio skips the ≥1ms rule for exactly that).
            let idle: Duration?
            if let text = try t["idleTimeout"].string(), IstioDuration.parse(text) == .zero {
                idle = .zero
            } else {
                idle = try t["idleTimeout"].durationValue()
            }
            tcp = TCP(maxConnections: try t["maxConnections"].nonNegativeInt32(),
                      connectTimeout: try t["connectTimeout"].durationValue(),
                      maxConnectionDuration: try t["maxConnectionDuration"].durationValue(),
                      idleTimeout: idle, hasKeepalive: !keepalive.isAbsent)
        } else {
            tcp = nil
        }
        if try r["http"].object() != nil {
            let h = r["http"]
            let upgrade = try h["h2UpgradePolicy"].oneOf(["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"], what: "h2UpgradePolicy")
            let useClient = try h["useClientProtocol"].boolean()
            if upgrade == "UPGRADE", useClient == true {
                throw h["useClientProtocol"].error("use client protocol must not be true when H2UpgradePolicy is UPGRADE")
            }
            let keepalive = h["http2KeepAlive"]
            if try keepalive.object() != nil {
                guard try keepalive["interval"].duration() != nil else { throw keepalive["interval"].error("http2 keepalive interval is required") }
                guard try keepalive["timeout"].duration() != nil else { throw keepalive["timeout"].error("http2 keepalive timeout is required") }
            }
            http = HTTP(http1MaxPendingRequests: try h["http1MaxPendingRequests"].nonNegativeInt32(),
                        http2MaxRequests: try h["http2MaxRequests"].nonNegativeInt32(),
                        maxRequestsPerConnection: try h["maxRequestsPerConnection"].nonNegativeInt32(),
                        maxRetries: try h["maxRetries"].nonNegativeInt32(),
                        maxConcurrentStreams: try h["maxConcurrentStreams"].nonNegativeInt32(),
                        idleTimeout: try h["idleTimeout"].durationValue(),
                        h2UpgradePolicy: upgrade, useClientProtocol: useClient)
        } else {
            http = nil
        }
    }
}

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
        /// `tcpKeepalive`, nil when absent.
        public var keepalive: TCPKeepalive?
    }

    /// `tcp.tcpKeepalive`; a nil part keeps the operating system's default.
    public struct TCPKeepalive: Sendable, Hashable {
        public var probes: UInt32?
        public var time: Duration?
        public var interval: Duration?
    }

    /// `http.http2KeepAlive`: HTTP/2 PINGs every `interval`, the connection closed when one is
    /// not answered within `timeout`.
    public struct HTTP2Keepalive: Sendable, Hashable {
        public var interval: Duration
        public var timeout: Duration
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
        /// `http2KeepAlive`, nil when absent.
        public var http2KeepAlive: HTTP2Keepalive? = nil
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
        self.init(
            http1MaxPendingRequests: nil, http2MaxRequests: http2MaxRequests, maxRequestsPerConnection: nil,
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
            var tcpKeepalive: TCPKeepalive?
            if try keepalive.object() != nil {
                tcpKeepalive = TCPKeepalive(
                    probes: try keepalive["probes"].uint32(), time: try keepalive["time"].durationValue(),
                    interval: try keepalive["interval"].durationValue())
            }
            // A zero idle timeout disables it (Istio skips the ≥1ms rule for exactly that).
            let idle: Duration?
            if let text = try t["idleTimeout"].string(), IstioDuration.parse(text) == .zero {
                idle = .zero
            } else {
                idle = try t["idleTimeout"].durationValue()
            }
            tcp = TCP(
                maxConnections: try t["maxConnections"].nonNegativeInt32(),
                connectTimeout: try t["connectTimeout"].durationValue(),
                maxConnectionDuration: try t["maxConnectionDuration"].durationValue(),
                idleTimeout: idle, keepalive: tcpKeepalive)
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
            var http2KeepAlive: HTTP2Keepalive?
            if try keepalive.object() != nil {
                guard let interval = try keepalive["interval"].durationValue() else {
                    throw keepalive["interval"].error("http2 keepalive interval is required")
                }
                guard let timeout = try keepalive["timeout"].durationValue() else {
                    throw keepalive["timeout"].error("http2 keepalive timeout is required")
                }
                http2KeepAlive = HTTP2Keepalive(interval: interval, timeout: timeout)
            }
            http = HTTP(
                http1MaxPendingRequests: try h["http1MaxPendingRequests"].nonNegativeInt32(),
                http2MaxRequests: try h["http2MaxRequests"].nonNegativeInt32(),
                maxRequestsPerConnection: try h["maxRequestsPerConnection"].nonNegativeInt32(),
                maxRetries: try h["maxRetries"].nonNegativeInt32(),
                maxConcurrentStreams: try h["maxConcurrentStreams"].nonNegativeInt32(),
                idleTimeout: try h["idleTimeout"].durationValue(),
                h2UpgradePolicy: upgrade, useClientProtocol: useClient, http2KeepAlive: http2KeepAlive)
        } else {
            http = nil
        }
    }
}

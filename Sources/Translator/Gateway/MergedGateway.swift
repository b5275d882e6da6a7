import MeshModel

/// The servers of every Gateway that selects one gateway proxy, merged port by port as istiod's
/// `MergeGateways` does, so each listener and route configuration knows its servers.
///
/// Gateways are taken oldest first (creation revision, then key) and servers in order. Per
/// listener (bind address and port):
/// - plain HTTP servers (HTTP, HTTP2, GRPC, GRPC-WEB, and HTTP servers carrying only
///   `tls.httpsRedirect`) share one route configuration, `http.PORT`;
/// - each HTTPS server that terminates TLS has its own filter chain (matched by SNI) and route
///   configuration, `https.PORT.PORT_NAME.GATEWAY.NAMESPACE`;
/// - TLS servers (passthrough or terminated) get filter chains by SNI; a plain TCP server one
///   unconditioned chain.
/// A later server is skipped (and reported) when it conflicts with an earlier one: a different
/// protocol where a plain server already holds the port, a TLS host already served on the port,
/// or an HTTPS route name already taken. The first server wins, as in istiod.
public struct MergedGateway: Sendable, Hashable {
    /// One server and the Gateway it belongs to.
    public struct Server: Sendable, Hashable {
        /// The Gateway's key.
        public var gateway: ConfigKey
        /// The server's index in the Gateway's `servers`.
        public var index: Int
        /// The server.
        public var spec: GatewayServer

        /// The Gateway's binding name, `namespace/name`.
        public var gatewayName: String { "\(gateway.namespace)/\(gateway.name)" }

        /// The server's SNI names: its hosts' DNS parts, deduplicated and sorted (empty when
        /// one is `*`, which matches every name).
        public var sniHosts: [String] {
            let names = Set(spec.hosts.map { $0.dnsName.lowercased() })
            return names.contains("*") ? [] : names.sorted()
        }
    }

    /// One listener: the servers on one bind address and port.
    public struct Listener: Sendable, Hashable {
        /// The address it binds (`0.0.0.0` unless a server sets `bind`).
        public var bind: String
        /// The port.
        public var port: UInt32
        /// The plain servers: HTTP ones sharing `http.PORT`, or one TCP server.
        public var plain: [Server]
        /// The servers using TLS (HTTPS, TLS), one or more filter chains each, in merge order.
        public var secure: [Server]

        /// `0.0.0.0_443`, as istiod names gateway listeners.
        public var name: String { "\(bind)_\(port)" }
    }

    /// A server left out, and why.
    public struct Rejection: Sendable, Hashable {
        public var server: Server
        public var reason: String
    }

    /// The listeners, in the order their first server appeared.
    public private(set) var listeners: [Listener] = []
    /// Servers left out on a conflict, in merge order.
    public private(set) var rejected: [Rejection] = []

    /// Merges `gateways` (oldest first). Servers on `reservedPorts` (the proxy's own listeners:
    /// health, stats, admin) are left out and reported.
    public init(_ gateways: [GatewayIndex.Entry], reservedPorts: Set<UInt32> = []) {
        var tlsHosts: [String: Set<String>] = [:]  // listener name → hosts with a TLS server
        var routeNames: Set<String> = []
        for gateway in gateways {
            for (index, spec) in gateway.spec.servers.enumerated() {
                let server = Server(gateway: gateway.key, index: index, spec: spec)
                let bind = spec.bind ?? "0.0.0.0"
                let port = spec.port.number
                let listenerName = "\(bind)_\(port)"
                guard !reservedPorts.contains(port) else {
                    rejected.append(
                        .init(server: server, reason: "port \(port) is the gateway proxy's own (health, stats or admin); the server is skipped"))
                    continue
                }
                if spec.tls != nil {
                    let hosts = spec.hosts.map { Self.sanitized($0, gatewayNamespace: gateway.key.namespace) }
                    let taken = hosts.filter { tlsHosts[listenerName, default: []].contains($0) }
                    tlsHosts[listenerName, default: []].formUnion(hosts)
                    if !taken.isEmpty {
                        rejected.append(
                            .init(server: server, reason: "duplicate host names on port \(port): \(taken.sorted().joined(separator: ", "))"))
                        continue
                    }
                }
                let routeName = Self.routeName(server)
                guard let at = listeners.firstIndex(where: { $0.bind == bind && $0.port == port }) else {
                    var listener = Listener(bind: bind, port: port, plain: [], secure: [])
                    if Self.isTLSServer(spec) { listener.secure = [server] } else { listener.plain = [server] }
                    if let routeName { routeNames.insert(routeName) }
                    listeners.append(listener)
                    continue
                }
                if let first = listeners[at].plain.first {
                    // Only HTTP servers merge with a plain server holding the port.
                    guard spec.port.protocol.isHTTP, first.spec.port.protocol.isHTTP else {
                        rejected.append(
                            .init(
                                server: server,
                                reason:
                                    "port \(port) is already served as \(first.spec.port.protocol.rawValue) by server \(first.index) of gateway \(first.gatewayName); this \(spec.port.protocol.rawValue) server is skipped"
                            ))
                        continue
                    }
                    listeners[at].plain.append(server)
                    continue
                }
                if !Self.isTLSServer(spec) {
                    listeners[at].plain = [server]
                    continue
                }
                if spec.terminatesHTTPS, let routeName {
                    guard routeNames.insert(routeName).inserted else {
                        rejected.append(.init(server: server, reason: "non unique port name for HTTPS port \(port): route \(routeName) is taken"))
                        continue
                    }
                }
                listeners[at].secure.append(server)
            }
        }
    }

    /// The plain HTTP servers sharing `http.PORT`, or the one HTTPS server of an `https.…` route.
    public func servers(forRoute name: String) -> [Server] {
        var result: [Server] = []
        for listener in listeners {
            result += listener.plain.filter { Self.routeName($0) == name }
            result += listener.secure.filter { Self.routeName($0) == name }
        }
        return result
    }

    /// Every route configuration name the listeners ask for, sorted.
    public var routeNames: [String] {
        Set(listeners.flatMap { ($0.plain + $0.secure).compactMap(Self.routeName) }).sorted()
    }

    /// istiod's route configuration name of a server: `http.PORT` for plain HTTP,
    /// `https.PORT.PORT_NAME.GATEWAY.NAMESPACE` for HTTPS terminated here (`.BIND` appended when
    /// the server binds an address); nil for TCP, TLS and HTTPS passthrough (no HTTP routing).
    public static func routeName(_ server: Server) -> String? {
        let spec = server.spec
        let bind = spec.bind.map { ".\($0)" } ?? ""
        if spec.port.protocol.isHTTP { return "http.\(spec.port.number)\(bind)" }
        if spec.terminatesHTTPS {
            return "https.\(spec.port.number).\(spec.port.name).\(server.gateway.name).\(server.gateway.namespace)\(bind)"
        }
        return nil
    }

    /// A server host as istiod compares them across servers: `./h` as `NAMESPACE/h`, `*/h` as `h`.
    static func sanitized(_ host: NamespacedHost, gatewayNamespace: String) -> String {
        switch host.namespace {
        case .any: host.dnsName.lowercased()
        case .current: "\(gatewayNamespace)/\(host.dnsName.lowercased())"
        case .named(let namespace): "\(namespace)/\(host.dnsName.lowercased())"
        }
    }

    /// istiod's `IsTLSServer`: TLS settings on a server that is not plain HTTP (an HTTP server
    /// with only `httpsRedirect` stays plain).
    static func isTLSServer(_ spec: GatewayServer) -> Bool {
        spec.tls != nil && !spec.port.protocol.isHTTP
    }
}

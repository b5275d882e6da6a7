import MeshCommon

/// Istio `Gateway`: the servers — ports, hosts and TLS — that the Envoy gateway proxies it selects
/// expose at the mesh's edge. VirtualServices bind to it by name (`gateways: [ns/name]`) to route
/// what those servers accept.
public struct Gateway: Sendable, Hashable {
    /// `selector`: the labels of the gateway proxies that serve it. Istio's default scope: a
    /// Gateway in any namespace selects matching proxies in every namespace. Empty selects every
    /// gateway proxy.
    public var selector: [String: String]
    /// `servers`, in order; never empty once validated.
    public var servers: [GatewayServer]

    /// Creates a Gateway.
    public init(selector: [String: String] = [:], servers: [GatewayServer]) {
        self.selector = selector
        self.servers = servers
    }

    /// Whether the gateway applies to a proxy with `labels`.
    public func selects(_ labels: [String: String]) -> Bool {
        selector.allSatisfy { labels[$0.key] == $0.value }
    }

    /// What the apply answer warns about: settings Istio accepts with a warning, and settings
    /// meshd's single-network mesh cannot use.
    public var advisories: [(field: String, message: String)] {
        var result: [(field: String, message: String)] = []
        for (index, server) in servers.enumerated() {
            let path = "spec.servers[\(index)]"
            guard let tls = server.tls else { continue }
            if tls.httpsRedirect, !server.port.protocol.isHTTP {
                result.append(("\(path).tls.httpsRedirect", "tls.httpsRedirect should only be used with http servers"))
            }
            if tls.mode == .autoPassthrough {
                result.append(
                    (
                        "\(path).tls.mode",
                        "AUTO_PASSTHROUGH routes by SNI to clusters across networks; meshd serves one network, so it is served as PASSTHROUGH (routed by bound VirtualServices' tls rules)"
                    ))
            }
            let invalid = Set(tls.cipherSuites.filter { !ServerTLSSettings.isValidCipherSuite($0) }).sorted()
            if !invalid.isEmpty {
                result.append(("\(path).tls.cipherSuites", "ignoring invalid cipher suites: [\(invalid.joined(separator: " "))]"))
            }
            var seen: Set<String> = []
            let duplicates = Set(tls.cipherSuites.filter { ServerTLSSettings.isValidCipherSuite($0) && !seen.insert($0).inserted }).sorted()
            if !duplicates.isEmpty {
                result.append(("\(path).tls.cipherSuites", "ignoring duplicate cipher suites: [\(duplicates.joined(separator: " "))]"))
            }
            if let low = tls.minProtocolVersion, low == .tls10 || low == .tls11, tls.cipherSuites.isEmpty {
                result.append(
                    (
                        "\(path).tls.minProtocolVersion",
                        "TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers."
                    ))
            }
            if tls.mode.isPassthrough, tls.hasCertificates {
                result.append(("\(path).tls", "\(tls.mode.rawValue) mode does not use certificates, they will be ignored"))
            }
        }
        return result
    }
}

/// One `servers[]` entry of a Gateway.
public struct GatewayServer: Sendable, Hashable {
    /// `port`: the port the proxy listens on, its protocol and name (unique in the Gateway).
    public var port: GatewayPort
    /// `bind`: the address the listener binds to (nil: every address).
    public var bind: String?
    /// `hosts`, each `namespace/dnsName` (a bare name reads as `*/name`): which VirtualServices
    /// (by namespace) may bind which hosts to this server.
    public var hosts: [NamespacedHost]
    /// `tls`; required on HTTPS and TLS servers, only `httpsRedirect` allowed on HTTP ones.
    public var tls: ServerTLSSettings?
    /// `name`: an optional label for the server.
    public var name: String?

    /// Creates a server.
    public init(port: GatewayPort, bind: String? = nil, hosts: [NamespacedHost], tls: ServerTLSSettings? = nil, name: String? = nil) {
        self.port = port
        self.bind = bind
        self.hosts = hosts
        self.tls = tls
        self.name = name
    }

    /// Whether the server terminates TLS and routes HTTP (an HTTPS server not in a passthrough
    /// mode).
    public var terminatesHTTPS: Bool {
        port.protocol == .https && !(tls?.mode.isPassthrough ?? false)
    }
}

/// A Gateway server's `port`.
public struct GatewayPort: Sendable, Hashable {
    /// `number`.
    public var number: UInt32
    /// `protocol`, read case-insensitively as Istio does.
    public var `protocol`: GatewayProtocol
    /// `name`, unique among the Gateway's servers.
    public var name: String

    /// Creates a port.
    public init(number: UInt32, protocol: GatewayProtocol, name: String) {
        self.number = number
        self.protocol = `protocol`
        self.name = name
    }
}

/// The protocols a Gateway server may declare (Istio's `protocol.Parse`, case-insensitive).
public enum GatewayProtocol: String, Sendable, Hashable, CaseIterable {
    case http = "HTTP"
    case https = "HTTPS"
    case http2 = "HTTP2"
    case grpc = "GRPC"
    case grpcWeb = "GRPC-WEB"
    case tcp = "TCP"
    case tls = "TLS"
    case mongo = "MONGO"
    case redis = "REDIS"
    case mysql = "MYSQL"

    /// Plain HTTP of some version (the server's routes come from bound VirtualServices' `http`).
    public var isHTTP: Bool {
        switch self {
        case .http, .http2, .grpc, .grpcWeb: true
        case .https, .tcp, .tls, .mongo, .redis, .mysql: false
        }
    }

    /// TLS on the wire (HTTPS or TLS): the server must say how (`tls`).
    public var isTLS: Bool { self == .https || self == .tls }
}

/// A Gateway server's `tls`.
public struct ServerTLSSettings: Sendable, Hashable {
    /// Istio's server TLS modes.
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// Forward the TLS connection unterminated, routed by its SNI (the proto's zero value).
        case passthrough = "PASSTHROUGH"
        /// Terminate TLS with the server's certificate.
        case simple = "SIMPLE"
        /// Terminate TLS and require a client certificate signed by the given CA.
        case mutual = "MUTUAL"
        /// Passthrough across networks by SNI-encoded cluster names (multi-network meshes).
        case autoPassthrough = "AUTO_PASSTHROUGH"
        /// Terminate mutual TLS with the gateway's own mesh certificate.
        case istioMutual = "ISTIO_MUTUAL"
        /// As MUTUAL, but a client without a certificate is let in.
        case optionalMutual = "OPTIONAL_MUTUAL"

        /// Whether TLS passes through unterminated.
        public var isPassthrough: Bool { self == .passthrough || self == .autoPassthrough }
    }

    /// TLS protocol versions, in Istio's names.
    public enum ProtocolVersion: String, Sendable, Hashable, CaseIterable, Comparable {
        case auto = "TLS_AUTO"
        case tls10 = "TLSV1_0"
        case tls11 = "TLSV1_1"
        case tls12 = "TLSV1_2"
        case tls13 = "TLSV1_3"

        public static func < (a: Self, b: Self) -> Bool {
            (allCases.firstIndex(of: a) ?? 0) < (allCases.firstIndex(of: b) ?? 0)
        }
    }

    /// `httpsRedirect`: answer plain HTTP requests with a redirect to HTTPS.
    public var httpsRedirect: Bool
    /// `mode`.
    public var mode: Mode
    /// `serverCertificate`, `privateKey`, `caCertificates`, `caCrl`: file paths on the proxy.
    public var serverCertificate: String?
    public var privateKey: String?
    public var caCertificates: String?
    public var caCrl: String?
    /// `credentialName`: the secret holding the certificate, key (and `NAME-cacert` CA).
    public var credentialName: String?
    /// `subjectAltNames` a client certificate must carry one of (MUTUAL).
    public var subjectAltNames: [String]
    /// `verifyCertificateSpki`, `verifyCertificateHash` (client certificate pins).
    public var verifyCertificateSpki: [String]
    public var verifyCertificateHash: [String]
    /// `minProtocolVersion`, `maxProtocolVersion` (nil: unset, TLS_AUTO).
    public var minProtocolVersion: ProtocolVersion?
    public var maxProtocolVersion: ProtocolVersion?
    /// `cipherSuites`, as written.
    public var cipherSuites: [String]

    /// Creates TLS settings.
    public init(
        httpsRedirect: Bool = false, mode: Mode = .passthrough, serverCertificate: String? = nil, privateKey: String? = nil,
        caCertificates: String? = nil, caCrl: String? = nil, credentialName: String? = nil, subjectAltNames: [String] = [],
        verifyCertificateSpki: [String] = [], verifyCertificateHash: [String] = [], minProtocolVersion: ProtocolVersion? = nil,
        maxProtocolVersion: ProtocolVersion? = nil, cipherSuites: [String] = []
    ) {
        self.httpsRedirect = httpsRedirect
        self.mode = mode
        self.serverCertificate = serverCertificate
        self.privateKey = privateKey
        self.caCertificates = caCertificates
        self.caCrl = caCrl
        self.credentialName = credentialName
        self.subjectAltNames = subjectAltNames
        self.verifyCertificateSpki = verifyCertificateSpki
        self.verifyCertificateHash = verifyCertificateHash
        self.minProtocolVersion = minProtocolVersion
        self.maxProtocolVersion = maxProtocolVersion
        self.cipherSuites = cipherSuites
    }

    /// Whether any certificate source is set.
    var hasCertificates: Bool {
        [serverCertificate, privateKey, caCertificates, caCrl, credentialName].contains { $0 != nil }
    }
}

import EnvoyAPI
import MeshModel

/// The filter chains of one inbound port (or of the port-less passthrough) on `virtualInbound`,
/// by its mutual TLS mode and how its traffic is carried, in istiod's table
/// (`filterchain_options.go`; docs/research/istio-zero-trust-facts.md §1.5):
///
/// | mode | HTTP | TCP | Auto (undeclared protocol, passthrough) |
/// |---|---|---|---|
/// | STRICT | mTLS → HCM | mTLS → tcp_proxy | mTLS + mesh HTTP ALPN → HCM; mTLS → tcp_proxy |
/// | PERMISSIVE | mTLS + mesh ALPN → HCM; plaintext → HCM | mTLS + mesh ALPN; TLS not of the mesh, passed through; plaintext (all tcp_proxy) | mTLS + mesh HTTP ALPN → HCM; plaintext HTTP → HCM; mTLS + mesh TCP ALPN → tcp_proxy; plaintext → tcp_proxy; other TLS passed through |
/// | DISABLE | plaintext → HCM | plaintext → tcp_proxy | plaintext HTTP → HCM; plaintext → tcp_proxy |
///
/// Under STRICT no chain takes `raw_buffer`: a plaintext connection matches none of its port's
/// chains, and Envoy neither falls back to port-less chains nor finds a default chain (there is
/// none), so it closes the connection.
enum InboundChains {
    /// How a port's traffic is handled (istiod's inbound listener protocol).
    enum Carriage: Sendable, Hashable {
        case http
        case tcp
        /// Unknown: HTTP when the HTTP inspector recognises it or a mesh client says so.
        case auto

        /// From a port's protocol name: the HTTP family is HTTP, Istio's TCP-like protocols TCP,
        /// anything else (none declared, or unknown) Auto.
        init(protocolName: String) {
            switch protocolName.uppercased() {
            case "HTTP", "HTTP2", "GRPC", "GRPC-WEB": self = .http
            case "TCP", "TLS", "HTTPS", "MONGO", "MYSQL", "REDIS", "UDP": self = .tcp
            default: self = .auto
            }
        }
    }

    /// One chain of the table.
    struct Shape: Sendable, Hashable {
        /// `tls` or `raw_buffer`.
        var transport: String
        var alpn: [String]
        /// HCM, else tcp_proxy.
        var http: Bool
        /// Terminates mesh mTLS (else plaintext, or TLS passed through untouched).
        var mutualTLS: Bool
    }

    static let tls = "tls"
    static let raw = "raw_buffer"

    /// The table's row for `mode` and `carriage`, in istiod's order.
    static func shapes(mode: PeerAuthentication.Mode, carriage: Carriage) -> [Shape] {
        switch (mode, carriage) {
        case (.strict, .http): [Shape(transport: tls, alpn: [], http: true, mutualTLS: true)]
        case (.strict, .tcp): [Shape(transport: tls, alpn: [], http: false, mutualTLS: true)]
        case (.strict, .auto):
            [
                Shape(transport: tls, alpn: InboundTLS.meshHTTPALPN, http: true, mutualTLS: true),
                Shape(transport: tls, alpn: [], http: false, mutualTLS: true),
            ]
        case (.disable, .http): [Shape(transport: raw, alpn: [], http: true, mutualTLS: false)]
        case (.disable, .tcp): [Shape(transport: raw, alpn: [], http: false, mutualTLS: false)]
        case (.disable, .auto):
            [
                Shape(transport: raw, alpn: InboundTLS.plaintextHTTPALPN, http: true, mutualTLS: false),
                Shape(transport: raw, alpn: [], http: false, mutualTLS: false),
            ]
        case (.permissive, .http), (.unset, .http):
            [
                Shape(transport: tls, alpn: InboundTLS.allMeshALPN, http: true, mutualTLS: true),
                Shape(transport: raw, alpn: [], http: true, mutualTLS: false),
            ]
        case (.permissive, .tcp), (.unset, .tcp):
            [
                Shape(transport: tls, alpn: InboundTLS.allMeshALPN, http: false, mutualTLS: true),
                Shape(transport: tls, alpn: [], http: false, mutualTLS: false),
                Shape(transport: raw, alpn: [], http: false, mutualTLS: false),
            ]
        case (.permissive, .auto), (.unset, .auto):
            [
                Shape(transport: tls, alpn: InboundTLS.meshHTTPALPN, http: true, mutualTLS: true),
                Shape(transport: raw, alpn: InboundTLS.plaintextHTTPALPN, http: true, mutualTLS: false),
                Shape(transport: tls, alpn: InboundTLS.meshTCPALPN, http: false, mutualTLS: true),
                Shape(transport: raw, alpn: [], http: false, mutualTLS: false),
                Shape(transport: tls, alpn: [], http: false, mutualTLS: false),
            ]
        }
    }

    /// What the chains of one port share.
    struct Target {
        /// The destination port matched; nil for the port-less passthrough.
        var port: UInt32?
        /// Where the traffic goes (`inbound|PORT||` or `InboundPassthroughCluster`).
        var cluster: String
        /// Chain names for HTTP and TCP chains (istiod's; not unique).
        var httpName: String
        var tcpName: String
        /// The HCM's stat prefix.
        var statPrefix: String
        /// The port in the inline virtual host's name (`inbound|http|PORT`; 0 for passthrough).
        var routePort: UInt32
    }

    /// What every chain of one listener shares, built once: the workload's security filters
    /// (ext_authz, jwt_authn, RBAC) and the mesh mTLS transport sockets.
    struct Shared {
        var http: [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter]
        var network: [Envoy_Config_Listener_V3_Filter]
        var httpTLS: Envoy_Config_Core_V3_TransportSocket
        var tcpTLS: Envoy_Config_Core_V3_TransportSocket

        init(security: SecurityFilters, trustDomain: String) {
            http = security.http
            network = security.network
            httpTLS = DownstreamTLS.socket(InboundTLS.context(http: true, trustDomain: trustDomain))
            tcpTLS = DownstreamTLS.socket(InboundTLS.context(http: false, trustDomain: trustDomain))
        }
    }

    /// The chains of `target` under `mode` and `carriage`, with what the listener's chains share.
    static func chains(
        _ target: Target, mode: PeerAuthentication.Mode, carriage: Carriage, shared: Shared
    ) -> [Envoy_Config_Listener_V3_FilterChain] {
        shapes(mode: mode, carriage: carriage).map { shape in
            var match = Envoy_Config_Listener_V3_FilterChainMatch()
            if let port = target.port { match.destinationPort = .init(port) }
            match.transportProtocol = shape.transport
            match.applicationProtocols = shape.alpn
            var chain = Envoy_Config_Listener_V3_FilterChain()
            chain.filterChainMatch = match
            if shape.http {
                chain.name = target.httpName
                chain.filters = [
                    EnvoyFilters.inboundConnectionManager(
                        statPrefix: target.statPrefix, routes: routes(cluster: target.cluster, port: target.routePort),
                        authorization: shared.http)
                ]
            } else {
                chain.name = target.tcpName
                chain.filters = shared.network + [EnvoyFilters.tcpProxy(cluster: target.cluster)]
            }
            if shape.mutualTLS { chain.transportSocket = shape.http ? shared.httpTLS : shared.tcpTLS }
            return chain
        }
    }

    /// The inline routes of an inbound HCM: everything to `cluster`.
    static func routes(cluster: String, port: UInt32) -> Envoy_Config_Route_V3_RouteConfiguration {
        var route = Envoy_Config_Route_V3_Route()
        route.name = "default"
        route.match.prefix = "/"
        route.route.cluster = cluster
        var host = Envoy_Config_Route_V3_VirtualHost()
        host.name = "inbound|http|\(port)"
        host.domains = ["*"]
        host.routes = [route]
        var configuration = Envoy_Config_Route_V3_RouteConfiguration()
        configuration.name = cluster
        configuration.virtualHosts = [host]
        return configuration
    }
}

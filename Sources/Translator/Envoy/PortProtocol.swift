import Discovery

/// How an Envoy sidecar carries a service port's traffic: through an HTTP connection manager
/// (routes by host and path), or as opaque bytes through tcp_proxy — matched by the original
/// destination for TCP, by SNI for TLS.
enum PortProtocol: Sendable, Hashable {
    case http
    case tcp
    case tls

    /// The port's declared protocol; when none is declared, Istio's port-name convention
    /// (`http`, `http-web`, `grpc-api`, `tls`…), and TCP for anything else — Envoy then
    /// forwards bytes unchanged, which works for every protocol (Istio would sniff instead).
    init(_ port: Service.Port) {
        self.init(protocolName: Self.declared(protocol: port.protocolName, name: port.name))
    }

    /// The protocol a port declares (upper-case), else the one its name says (`grpc-api` →
    /// `GRPC`), else empty.
    static func declared(protocol: String?, name: String?) -> String {
        if let written = `protocol`, !written.isEmpty { return written.uppercased() }
        return String(name?.split(separator: "-", maxSplits: 1).first ?? "").uppercased()
    }

    /// The class of an Istio protocol name (upper-case).
    init(protocolName: String) {
        switch protocolName.uppercased() {
        case "HTTP", "HTTP2", "GRPC", "GRPC-WEB": self = .http
        case "HTTPS", "TLS": self = .tls
        default: self = .tcp
        }
    }
}

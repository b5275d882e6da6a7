/// One ingress listener of a Sidecar: a port the workload serves and where the sidecar hands
/// its traffic. When a Sidecar lists any, they replace the inbound ports the workload's
/// services would give (Istio's rule).
public struct SidecarIngress: Sendable, Hashable {
    /// Where the sidecar sends what arrives on the port.
    public enum Endpoint: Sendable, Hashable {
        /// An address and port on the workload's own host (`127.0.0.1:8080`, `[::1]:8080`).
        case socket(address: String, port: UInt32)
        /// A Unix domain socket path (`unix:///var/run/app.sock`, `unix://@abstract`).
        case pipe(String)
    }

    /// The port traffic for the workload arrives on (matched on the original destination).
    public var port: UInt32
    /// The port's protocol as written (`HTTP`, `TCP`, …), nil when not given.
    public var `protocol`: String?
    /// The port's name, nil when not given.
    public var name: String?
    /// Where the traffic goes: `defaultEndpoint`. Unset, it is the same port on loopback.
    /// `0.0.0.0:P` and `[::]:P` (the application listens on every address) reach it on
    /// loopback too.
    public var endpoint: Endpoint

    public init(port: UInt32, protocol: String? = nil, name: String? = nil, endpoint: Endpoint? = nil) {
        self.port = port
        self.protocol = `protocol`
        self.name = name
        self.endpoint = endpoint ?? .socket(address: "127.0.0.1", port: port)
    }
}

extension SidecarIngress {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        let portReader = r["port"]
        guard try portReader.object() != nil else { throw portReader.error("required") }
        guard let number = try portReader["number"].port() else { throw portReader["number"].error("required") }
        port = number
        `protocol` = try portReader["protocol"].string()
        if let value = `protocol`, !ServicePort.supportedProtocols.contains(value.uppercased()) {
            throw portReader["protocol"].error(
                "unsupported protocol \"\(value)\"; supported: \(ServicePort.supportedProtocols.joined(separator: ", "))")
        }
        name = try portReader["name"].string()
        _ = try r["bind"].string()
        _ = try r["captureMode"].oneOf(["DEFAULT", "IPTABLES", "NONE"], what: "captureMode")
        guard let text = try r["defaultEndpoint"].string(), !text.isEmpty else {
            endpoint = .socket(address: "127.0.0.1", port: number)
            return
        }
        guard let parsed = Self.endpoint(text) else {
            throw r["defaultEndpoint"].error(
                "must be 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT or unix:///absolute/path (or unix://@abstract)")
        }
        endpoint = parsed
    }

    /// Istio's accepted forms of `defaultEndpoint`, or nil.
    static func endpoint(_ text: String) -> Endpoint? {
        if text.hasPrefix("unix://") {
            return WorkloadEntry.isUnixSocket(text) ? .pipe(String(text.dropFirst("unix://".count))) : nil
        }
        guard let colon = text.lastIndex(of: ":"), let port = UInt32(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            return nil
        }
        switch text[..<colon] {
        case "127.0.0.1", "0.0.0.0": return .socket(address: "127.0.0.1", port: port)
        case "[::1]", "[::]": return .socket(address: "::1", port: port)
        default: return nil
        }
    }
}

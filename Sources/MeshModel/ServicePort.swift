/// A port of a ServiceEntry.
public struct ServicePort: Sendable, Hashable {
    /// The port number clients use.
    public var number: UInt32
    /// The protocol (`HTTP`, `HTTPS`, `GRPC`, `HTTP2`, `MONGO`, `TCP`, `TLS`), as written;
    /// compare case-insensitively.
    public var `protocol`: String?
    /// The port's name, unique within the entry; endpoints refer to it in their `ports` map.
    public var name: String
    /// The port on the endpoints, when it differs from `number`.
    public var targetPort: UInt32?

    /// Creates a port.
    public init(number: UInt32, protocol: String? = nil, name: String, targetPort: UInt32? = nil) {
        self.number = number
        self.protocol = `protocol`
        self.name = name
        self.targetPort = targetPort
    }

    /// The protocols meshd accepts, in Istio's spelling.
    public static let supportedProtocols = ["HTTP", "HTTPS", "GRPC", "HTTP2", "MONGO", "TCP", "TLS"]
}

extension ServicePort {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        guard let number = try r["number"].port() else { throw r["number"].error("required") }
        self.number = number
        `protocol` = try r["protocol"].string()
        if let value = `protocol`, !Self.supportedProtocols.contains(value.uppercased()) {
            throw r["protocol"].error(
                "unsupported protocol \"\(value)\"; supported: \(Self.supportedProtocols.joined(separator: ", "))")
        }
        name = try r["name"].requiredString()
        targetPort = try r["targetPort"].port()
    }
}

/// Where a route sends traffic: a host, optionally one of its subsets and one of its ports.
public struct Destination: Sendable, Hashable {
    /// The service host, as written (short names are expanded later with `HostName.resolve`).
    public var host: String
    /// A subset named by a DestinationRule for `host`.
    public var subset: String?
    /// The destination port (`port: {number: N}` in YAML); needed when the host has several.
    public var port: UInt32?

    /// Creates a destination.
    public init(host: String, subset: String? = nil, port: UInt32? = nil) {
        self.host = host
        self.subset = subset
        self.port = port
    }
}

extension Destination {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("required") }
        host = try r["host"].requiredString()
        guard NameRules.isHost(host) else { throw r["host"].error("invalid host \"\(host)\"") }
        // Istio routes to one concrete service; a wildcard names no single destination.
        guard !host.contains("*") else { throw r["host"].error("must not contain a wildcard") }
        subset = try r["subset"].string()
        _ = try r["port"].object()
        port = try r["port"]["number"].port()
    }
}

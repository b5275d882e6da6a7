/// One egress listener of a Sidecar: the services it imports, optionally on one port.
public struct SidecarEgress: Sendable, Hashable {
    /// The listener port: only service ports with this number are admitted through this
    /// listener. Nil catches every port.
    public var port: UInt32?
    /// The imported (and excluded) hosts, as written; never empty once validated.
    public var hosts: [NamespacedHost]

    /// Creates an egress listener.
    public init(port: UInt32? = nil, hosts: [NamespacedHost]) {
        self.port = port
        self.hosts = hosts
    }

    /// Whether this listener imports `host` of a service in `serviceNamespace`, for a proxy
    /// whose Sidecar applies in `configNamespace` (what `.` means). An exclusion (`~`) that
    /// matches wins over any import, as in Istio.
    public func imports(host: String, serviceNamespace: String, configNamespace: String) -> Bool {
        var imported = false
        for entry in hosts where entry.matches(host: host, serviceNamespace: serviceNamespace, configNamespace: configNamespace) {
            if entry.excluded { return false }
            imported = true
        }
        return imported
    }
}

extension SidecarEgress {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        let portReader = r["port"]
        if try portReader.object() != nil {
            guard let number = try portReader["number"].port() else { throw portReader["number"].error("required") }
            if let value = try portReader["protocol"].string(), !ServicePort.supportedProtocols.contains(value.uppercased()) {
                throw portReader["protocol"].error(
                    "unsupported protocol \"\(value)\"; supported: \(ServicePort.supportedProtocols.joined(separator: ", "))")
            }
            _ = try portReader["name"].string()
            port = number
        } else {
            port = nil
        }
        let readers = try r["hosts"].list()
        guard !readers.isEmpty else { throw r["hosts"].error("an egress listener must list at least one host") }
        var hosts: [NamespacedHost] = []
        for reader in readers {
            guard let text = try reader.string() else { throw reader.error("expected a string") }
            do throws(NamespacedHost.SyntaxError) {
                hosts.append(try NamespacedHost(parsing: text))
            } catch {
                throw reader.error(error.message)
            }
        }
        self.hosts = hosts
        _ = try r["bind"].string()
        // Not applied yet (the write path warns), but a value Istio would refuse is refused.
        _ = try r["captureMode"].oneOf(["DEFAULT", "IPTABLES", "NONE"], what: "captureMode")
    }
}

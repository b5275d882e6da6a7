extension TrafficPolicy {
    /// Reads and validates a `trafficPolicy` object with Istio's rules (`validateTrafficPolicy`).
    init(reading r: FieldReader) throws(MeshModelError) {
        guard let members = try r.object() else { throw r.error("expected an object") }
        // Istio: "traffic policy must have at least one field" (any of its fields, modelled or not).
        guard members.values.contains(where: { $0 != .null }) else { throw r.error("traffic policy must have at least one field") }
        if !r["tunnel"].isAbsent, !r["proxyProtocol"].isAbsent {
            throw r.error("tunnel and proxyProtocol must not be set together")
        }
        settings = try PolicySettings(reading: r)
        var ports: [PortTrafficPolicy] = []
        for entry in try r["portLevelSettings"].list() {
            guard try entry.object() != nil else { throw entry.error("traffic policy may not be null") }
            guard let port = try entry["port"]["number"].port() else {
                throw entry["port"]["number"].error("portTrafficPolicy must have valid port")
            }
            let settings = try PolicySettings(reading: entry)
            guard !settings.isEmpty else { throw entry.error("port traffic policy must have at least one field") }
            ports.append(PortTrafficPolicy(port: port, settings: settings))
        }
        portLevelSettings = ports
    }
}

extension PolicySettings {
    /// The four blocks of a traffic policy or port-level entry.
    init(reading r: FieldReader) throws(MeshModelError) {
        let outlier = try OutlierDetection(readingIfPresent: r["outlierDetection"])
        self.init(
            loadBalancer: try LoadBalancerSettings(readingIfPresent: r["loadBalancer"]),
            connectionPool: try ConnectionPoolSettings(readingIfPresent: r["connectionPool"]),
            outlierDetection: outlier,
            tls: try ClientTLSSettings(readingIfPresent: r["tls"]))
    }
}

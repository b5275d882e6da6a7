import MeshCommon

// Istio's Gateway validation (`ValidateGateway`, `validateServer`, `validateTLSOptions`), with
// the field path of each problem.

extension Gateway {
    init(reading spec: FieldReader) throws(MeshModelError) {
        selector = try spec["selector"].stringMap()
        for key in selector.keys.sorted() where key.isEmpty {
            throw spec["selector"][key].error("a selector label key must not be empty")
        }
        let readers = try spec["servers"].list()
        guard !readers.isEmpty else { throw spec["servers"].error("gateway must have at least one server") }
        var servers: [GatewayServer] = []
        var portNames: Set<String> = []
        for reader in readers {
            let server = try GatewayServer(reading: reader)
            guard portNames.insert(server.port.name).inserted else {
                throw reader["port"]["name"].error("port names in servers must be unique: duplicate name \(server.port.name)")
            }
            servers.append(server)
        }
        self.servers = servers
    }
}

extension GatewayServer {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        let hostReaders = try r["hosts"].list()
        guard !hostReaders.isEmpty else { throw r["hosts"].error("server config must contain at least one host") }
        var hosts: [NamespacedHost] = []
        for reader in hostReaders {
            guard case .string(let text)? = reader.value else { throw reader.error("expected a string") }
            do throws(NamespacedHost.SyntaxError) {
                hosts.append(try NamespacedHost(gatewayHost: text))
            } catch {
                throw reader.error(error.message)
            }
        }
        self.hosts = hosts
        port = try GatewayPort(reading: r["port"])
        bind = try r["bind"].string()
        if let bind, !IPAddressSyntax.isIPAddress(bind) {
            throw r["bind"].error("\"\(bind)\" is not a valid IP address (meshd's gateways bind to IP addresses)")
        }
        name = try r["name"].string()
        tls = try r["tls"].object() == nil ? nil : try ServerTLSSettings(reading: r["tls"])
        if port.protocol.isTLS, tls == nil {
            throw r["tls"].error("server must have TLS settings for HTTPS/TLS protocols")
        }
        if let tls, !port.protocol.isTLS {
            guard port.protocol.isHTTP else {
                throw r["tls"].error("server cannot have TLS settings for non HTTPS/TLS ports")
            }
            // Only the redirect to HTTPS belongs on a plain HTTP server.
            if !tls.mode.isPassthrough || tls.caCertificates != nil || tls.privateKey != nil || tls.serverCertificate != nil {
                throw r["tls"].error("server cannot have TLS settings for plain text HTTP ports")
            }
        }
    }
}

extension GatewayPort {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("port is required") }
        guard let number = try r["number"].port() else { throw r["number"].error("required") }
        self.number = number
        let text = try r["protocol"].requiredString()
        guard let parsed = GatewayProtocol(rawValue: text.uppercased()) else {
            throw r["protocol"].error(
                "invalid protocol \"\(text)\"; supported: \(GatewayProtocol.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.protocol = parsed
        name = try r["name"].requiredString()
        if !r["targetPort"].isAbsent {
            throw r["targetPort"].error("targetPort has no impact on Gateways")
        }
    }
}

extension ServerTLSSettings {
    /// Cipher suite names Istio's validation knows (what BoringSSL in Envoy accepts by name).
    static let knownCipherSuites: Set<String> = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA",
        "AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA", "AES256-SHA", "DES-CBC3-SHA",
    ]

    /// Istio's `IsValidCipherSuite`: a known name, `ALL`, empty, or an OpenSSL operator entry
    /// (starting with `-`, `+`, `!`, `[`…).
    static func isValidCipherSuite(_ suite: String) -> Bool {
        guard let first = suite.unicodeScalars.first, suite != "ALL" else { return true }
        let alphanumeric = ("a"..."z").contains(first) || ("A"..."Z").contains(first) || ("0"..."9").contains(first)
        return !alphanumeric || knownCipherSuites.contains(suite)
    }

    /// The suites sent to Envoy: valid ones, each once, in the order written (Istio's
    /// `FilterCipherSuites`); the rest are warned about (`Gateway.advisories`).
    public static func usableCipherSuites(_ suites: [String]) -> [String] {
        var seen: Set<String> = []
        return suites.filter { isValidCipherSuite($0) && seen.insert($0).inserted }
    }

    init(reading r: FieldReader) throws(MeshModelError) {
        httpsRedirect = try r["httpsRedirect"].boolean() ?? false
        let mode = try r["mode"].oneOf(Mode.allCases.map(\.rawValue), what: "mode").flatMap(Mode.init(rawValue:)) ?? .passthrough
        self.mode = mode
        serverCertificate = try r["serverCertificate"].string().flatMap { $0.isEmpty ? nil : $0 }
        privateKey = try r["privateKey"].string().flatMap { $0.isEmpty ? nil : $0 }
        caCertificates = try r["caCertificates"].string().flatMap { $0.isEmpty ? nil : $0 }
        caCrl = try r["caCrl"].string().flatMap { $0.isEmpty ? nil : $0 }
        credentialName = try r["credentialName"].string().flatMap { $0.isEmpty ? nil : $0 }
        subjectAltNames = try r["subjectAltNames"].strings()
        verifyCertificateSpki = try r["verifyCertificateSpki"].strings()
        verifyCertificateHash = try r["verifyCertificateHash"].strings()
        let versions = ProtocolVersion.allCases.map(\.rawValue)
        minProtocolVersion = try r["minProtocolVersion"].oneOf(versions, what: "TLS version").flatMap(ProtocolVersion.init(rawValue:))
        maxProtocolVersion = try r["maxProtocolVersion"].oneOf(versions, what: "TLS version").flatMap(ProtocolVersion.init(rawValue:))
        if let low = minProtocolVersion, let high = maxProtocolVersion, low != .auto, high != .auto, high < low {
            // Istio does not check this; Envoy would refuse every handshake.
            throw r["maxProtocolVersion"].error("maxProtocolVersion \(high.rawValue) is lower than minProtocolVersion \(low.rawValue)")
        }
        cipherSuites = try r["cipherSuites"].strings()
        let sources =
            [serverCertificate != nil && privateKey != nil, credentialName != nil].filter { $0 }.count
        if sources > 1 {
            throw r["credentialName"].error(
                "only one of credential_name, credential_names, server_certificate/private_key, tls_certificates should be specified")
        }
        if caCrl != nil, credentialName != nil {
            throw r["caCrl"].error("CRL is not supported with credentialName. CRL has to be specified in the credential")
        }
        if caCrl != nil, mode == .simple { throw r["caCrl"].error("CRL is not supported with SIMPLE TLS") }
        switch mode {
        case .istioMutual:
            // The gateway's own mesh certificate: nothing else may be named.
            for (field, value, what) in [
                ("serverCertificate", serverCertificate, "server certificate"), ("privateKey", privateKey, "private key"),
                ("caCertificates", caCertificates, "CA bundle"), ("credentialName", credentialName, "credentialName"),
            ] where value != nil {
                throw r[field].error("ISTIO_MUTUAL TLS cannot have associated \(what)")
            }
        case .simple, .mutual, .optionalMutual:
            guard credentialName == nil else { break }
            let label = mode == .simple ? "SIMPLE" : "MUTUAL"
            if serverCertificate == nil { throw r["serverCertificate"].error("\(label) TLS requires a server certificate") }
            if privateKey == nil { throw r["privateKey"].error("\(label) TLS requires a private key") }
            if mode != .simple, caCertificates == nil {
                throw r["caCertificates"].error("MUTUAL TLS requires a client CA bundle")
            }
        case .passthrough, .autoPassthrough:
            break
        }
    }
}

extension NamespacedHost {
    /// Parses a Gateway server host as Istio's `validateNamespaceSlashWildcardHostname` does for
    /// gateways: `namespace/dnsName` with `*`, `.` or a namespace name, or a bare `dnsName`
    /// (old style: any namespace). The DNS part is `*`, `*.suffix`, a fully qualified name or an
    /// IP address.
    init(gatewayHost text: String) throws(SyntaxError) {
        var ns = "*"
        var dnsName = text
        if let slash = text.firstIndex(of: "/") {
            ns = String(text[..<slash])
            dnsName = String(text[text.index(after: slash)...])
            guard !ns.isEmpty, !dnsName.isEmpty else {
                throw SyntaxError(message: "host \"\(text)\": config namespace and dnsName in host entry cannot be empty")
            }
        }
        excluded = false
        switch ns {
        case "*": namespace = .any
        case ".": namespace = .current
        default:
            guard NameRules.isDNS1123Label(ns) else {
                throw SyntaxError(message: "host \"\(text)\": invalid namespace value \"\(ns)\" in gateway")
            }
            namespace = .named(ns)
        }
        if dnsName != "*", !IPAddressSyntax.isIPAddress(dnsName) {
            guard dnsName.contains(".") else {
                throw SyntaxError(message: "host \"\(text)\": short names (non FQDN) are not allowed")
            }
            let partial = dnsName.contains("*") && !(dnsName.hasPrefix("*.") && !dnsName.dropFirst().contains("*"))
            guard NameRules.isHost(dnsName), !partial else {
                throw SyntaxError(message: "host \"\(text)\": invalid dnsName \"\(dnsName)\" (a wildcard may only be the whole first label)")
            }
        }
        self.dnsName = dnsName
    }
}

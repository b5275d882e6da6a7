/// Istio `ClientTLSSettings` of a traffic policy: how a client secures its connections to the
/// destination. Validated with Istio's rules (`ValidateTLS`).
public struct ClientTLSSettings: Sendable, Hashable {
    /// Istio's TLS modes.
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// Plaintext.
        case disable = "DISABLE"
        /// TLS, verifying the server (the client presents no certificate).
        case simple = "SIMPLE"
        /// Mutual TLS with the certificates named here.
        case mutual = "MUTUAL"
        /// Mutual TLS with the workload's own mesh certificate.
        case istioMutual = "ISTIO_MUTUAL"
    }

    /// `mode`; nil when unset (proto3's DISABLE).
    public var mode: Mode?
    /// `clientCertificate`: a file path on the client.
    public var clientCertificate: String?
    /// `privateKey`: a file path on the client.
    public var privateKey: String?
    /// `caCertificates`: a file path on the client.
    public var caCertificates: String?
    /// `caCrl`: a file path on the client.
    public var caCrl: String?
    /// `credentialName`: a secret holding the certificates.
    public var credentialName: String?
    /// `subjectAltNames` the server certificate must carry one of.
    public var subjectAltNames: [String]
    /// `sni`: the server name to send.
    public var sni: String?
    /// `insecureSkipVerify`.
    public var insecureSkipVerify: Bool?

    /// Creates TLS settings.
    public init(
        mode: Mode?, clientCertificate: String? = nil, privateKey: String? = nil, caCertificates: String? = nil,
        caCrl: String? = nil, credentialName: String? = nil, subjectAltNames: [String] = [], sni: String? = nil,
        insecureSkipVerify: Bool? = nil
    ) {
        self.mode = mode
        self.clientCertificate = clientCertificate
        self.privateKey = privateKey
        self.caCertificates = caCertificates
        self.caCrl = caCrl
        self.credentialName = credentialName
        self.subjectAltNames = subjectAltNames
        self.sni = sni
        self.insecureSkipVerify = insecureSkipVerify
    }
}

extension ClientTLSSettings {
    /// Reads `tls`; nil when absent.
    init?(readingIfPresent r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { return nil }
        let mode = try r["mode"].oneOf(Mode.allCases.map(\.rawValue), what: "TLS mode").flatMap(Mode.init(rawValue:))
        // Empty strings are proto3's "unset".
        func text(_ key: String) throws(MeshModelError) -> String? {
            try r[key].string().flatMap { $0.isEmpty ? nil : $0 }
        }
        self.init(
            mode: mode, clientCertificate: try text("clientCertificate"), privateKey: try text("privateKey"),
            caCertificates: try text("caCertificates"), caCrl: try text("caCrl"),
            credentialName: try text("credentialName"), subjectAltNames: try r["subjectAltNames"].strings(),
            sni: try text("sni"), insecureSkipVerify: try r["insecureSkipVerify"].boolean())
        if let sni, !NameRules.isHost(sni) || sni.contains("*") { throw r["sni"].error("invalid SNI \"\(sni)\"") }
        if insecureSkipVerify == true {
            if mode == .simple, caCertificates != nil || credentialName != nil || !subjectAltNames.isEmpty {
                throw r["insecureSkipVerify"].error(
                    "cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true")
            }
            if mode == .mutual, caCertificates != nil || !subjectAltNames.isEmpty {
                throw r["insecureSkipVerify"].error("cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true")
            }
        }
        if mode == .simple || mode == .mutual, credentialName != nil {
            if clientCertificate != nil || caCertificates != nil || privateKey != nil || caCrl != nil {
                throw r["credentialName"].error("cannot specify client certificates or CA certificate or CA CRL If credentialName is set")
            }
            return
        }
        if mode == .mutual {
            if clientCertificate == nil { throw r["clientCertificate"].error("client certificate required for mutual tls") }
            if privateKey == nil { throw r["privateKey"].error("private key required for mutual tls") }
        }
    }
}

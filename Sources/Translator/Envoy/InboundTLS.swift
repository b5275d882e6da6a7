import EnvoyAPI

/// Mesh mutual TLS on an Envoy sidecar's inbound chains, as istiod writes it
/// (`pilot/pkg/security/authn/utils`): the workload certificate and the trust bundle over SDS
/// from mesh-agent (`default`, `ROOTCA` through the `sds-grpc` cluster), a client certificate
/// always required (PERMISSIVE adds plaintext chains beside the TLS ones, it does not make the
/// certificate optional), and only identities of the mesh's trust domain accepted. Which
/// identity may call what is AuthorizationPolicy's business (the RBAC filters).
///
/// Also the ALPN values that tell mesh traffic from the rest on `virtualInbound`.
enum InboundTLS {
    /// What a mesh client offers for HTTP when it knows the protocol (Istio's `istio.alpn`).
    static let meshHTTPALPN = ["istio-http/1.0", "istio-http/1.1", "istio-h2"]
    /// Every ALPN a mesh client may offer.
    static let allMeshALPN = ["istio", "istio-peer-exchange"] + meshHTTPALPN
    /// What a mesh client offers for opaque TCP (meshd's sidecars always offer these).
    static let meshTCPALPN = ["istio-peer-exchange", "istio"]
    /// What the HTTP inspector reports for plaintext HTTP.
    static let plaintextHTTPALPN = ["http/1.1", "h2c"]

    /// Istio's default cipher suites for mesh mTLS, in its order.
    static let cipherSuites = [
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-GCM-SHA256",
    ]

    /// The server context of a mesh mTLS chain; `http` chains offer `h2` and `http/1.1`, TCP
    /// chains `istio-peer-exchange` first.
    static func context(http: Bool, trustDomain: String) -> Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext {
        var common = Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext()
        common.alpnProtocols = http ? ["h2", "http/1.1"] : ["istio-peer-exchange", "h2", "http/1.1"]
        var parameters = Envoy_Extensions_TransportSockets_Tls_V3_TlsParameters()
        parameters.tlsMinimumProtocolVersion = .tlsv12
        parameters.tlsMaximumProtocolVersion = .tlsv13
        parameters.cipherSuites = cipherSuites
        common.tlsParams = parameters
        var trusted = Envoy_Type_Matcher_V3_StringMatcher()
        trusted.prefix = "spiffe://\(trustDomain)/"
        var checks = Envoy_Extensions_TransportSockets_Tls_V3_CertificateValidationContext()
        checks.matchSubjectAltNames = [trusted]
        UpstreamTLS.useMeshCertificates(&common, checks: checks)
        var context = Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext()
        context.commonTlsContext = common
        context.requireClientCertificate = .init(true)
        return context
    }
}

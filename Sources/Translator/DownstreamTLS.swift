import EnvoyAPI

/// Mesh mTLS for proxyless gRPC servers (PeerAuthentication STRICT): the server presents its
/// workload certificate and requires a client certificate that chains to the mesh root.
///
/// As on the client side (`UpstreamTLS`), certificates come from the server's bootstrap
/// certificate-provider instance `default`, which `meshctl bootstrap --cert-dir` declares over
/// the files mesh-agent keeps fresh. No SAN matchers: which identities may call is
/// AuthorizationPolicy's business (the RBAC filter), as in Istio.
public enum DownstreamTLS {
    /// The TLS context a server port gets under STRICT.
    public static func strictContext() -> Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext {
        var validation = Envoy_Extensions_TransportSockets_Tls_V3_CertificateValidationContext()
        validation.caCertificateProviderInstance = UpstreamTLS.instance(UpstreamTLS.rootCertificateName)
        var common = Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext()
        common.tlsCertificateProviderInstance = UpstreamTLS.instance(UpstreamTLS.identityCertificateName)
        common.validationContext = validation
        var context = Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext()
        context.commonTlsContext = common
        context.requireClientCertificate = .init(true)
        return context
    }

    /// The transport socket carrying `context`.
    public static func socket(_ context: Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext) -> Envoy_Config_Core_V3_TransportSocket {
        var socket = Envoy_Config_Core_V3_TransportSocket()
        socket.name = UpstreamTLS.transportSocketName
        socket.typedConfig = AnyPacking.pack(context)
        return socket
    }
}

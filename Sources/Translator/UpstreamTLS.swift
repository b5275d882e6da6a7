import Discovery
import EnvoyAPI

/// Mesh mTLS for proxyless gRPC clients (`ISTIO_MUTUAL`): the client presents its workload
/// certificate and verifies that the server's certificate names one of the destination's
/// service accounts.
///
/// Certificates come from gRPC certificate-provider instances, not from xDS: the names here must
/// match the bootstrap `meshctl bootstrap --cert-dir` writes (instance `default`, whose
/// `file_watcher` reads what mesh-agent keeps fresh).
public enum UpstreamTLS {
    /// The certificate-provider instance in the client's bootstrap.
    public static let providerInstance = "default"
    /// The certificate name for the workload's own certificate.
    public static let identityCertificateName = "default"
    /// The certificate name for the trust anchor.
    public static let rootCertificateName = "ROOTCA"
    /// Envoy's name for the TLS transport socket.
    public static let transportSocketName = "envoy.transport_sockets.tls"

    /// The TLS context for a cluster whose endpoints are `endpoints`: the accepted server
    /// identities are their service accounts (`default` when a workload names none), sorted.
    public static func context(for endpoints: [Endpoint], trustDomain: String) -> Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext {
        let identities = Set(endpoints.map { endpoint in
            "spiffe://\(trustDomain)/ns/\(endpoint.source.namespace)/sa/\(endpoint.serviceAccount ?? "default")"
        }).sorted()

        var validation = Envoy_Extensions_TransportSockets_Tls_V3_CertificateValidationContext()
        validation.caCertificateProviderInstance = instance(rootCertificateName)
        validation.matchSubjectAltNames = identities.map { identity in
            var matcher = Envoy_Type_Matcher_V3_StringMatcher()
            matcher.exact = identity
            return matcher
        }
        validation.matchTypedSubjectAltNames = identities.map { identity in
            var san = Envoy_Extensions_TransportSockets_Tls_V3_SubjectAltNameMatcher()
            san.sanType = .uri
            san.matcher.exact = identity
            return san
        }
        var common = Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext()
        common.tlsCertificateProviderInstance = instance(identityCertificateName)
        common.validationContext = validation
        var context = Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext()
        context.commonTlsContext = common
        return context
    }

    private static func instance(_ certificateName: String) -> Envoy_Extensions_TransportSockets_Tls_V3_CertificateProviderPluginInstance {
        var instance = Envoy_Extensions_TransportSockets_Tls_V3_CertificateProviderPluginInstance()
        instance.instanceName = providerInstance
        instance.certificateName = certificateName
        return instance
    }
}

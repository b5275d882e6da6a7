import Discovery
import EnvoyAPI
import MeshModel

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

    /// The TLS context a proxyless client gets for `settings`: mesh mTLS for ISTIO_MUTUAL, nil
    /// otherwise. SIMPLE and MUTUAL name files and secrets gRPC cannot load from xDS; as in
    /// Istio nothing is sent for them, so the client's own channel credentials apply (the apply
    /// answer says so).
    /// The DestinationRule's `subjectAltNames` replace the accepted identities; else they are
    /// the endpoints' plus the ServiceEntry's `subjectAltNames` (`extraIdentities`), as in Istio.
    public static func context(
        _ settings: ClientTLSSettings?, endpoints: [Endpoint], extraIdentities: [String] = [],
        trustDomain: String
    ) -> Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext? {
        guard let settings, settings.mode == .istioMutual else { return nil }
        guard settings.subjectAltNames.isEmpty else { return context(identities: Set(settings.subjectAltNames).sorted()) }
        return context(identities: Set(identities(of: endpoints, trustDomain: trustDomain) + extraIdentities).sorted())
    }

    /// The TLS context for a cluster whose endpoints are `endpoints`: the accepted server
    /// identities are their service accounts (`default` when a workload names none), sorted.
    public static func context(for endpoints: [Endpoint], trustDomain: String) -> Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext {
        context(identities: Set(identities(of: endpoints, trustDomain: trustDomain)).sorted())
    }

    private static func identities(of endpoints: [Endpoint], trustDomain: String) -> [String] {
        endpoints.map { endpoint in
            "spiffe://\(trustDomain)/ns/\(endpoint.source.namespace)/sa/\(endpoint.serviceAccount ?? "default")"
        }
    }

    /// The TLS context accepting a server certificate that names one of `identities` (URI SANs).
    static func context(identities: [String]) -> Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext {
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

    static func instance(_ certificateName: String) -> Envoy_Extensions_TransportSockets_Tls_V3_CertificateProviderPluginInstance {
        var instance = Envoy_Extensions_TransportSockets_Tls_V3_CertificateProviderPluginInstance()
        instance.instanceName = providerInstance
        instance.certificateName = certificateName
        return instance
    }
}

import Discovery
import EnvoyAPI
import MeshModel

extension UpstreamTLS {
    /// The static cluster through which Envoy reaches mesh-agent's SDS socket (the bootstrap
    /// `meshctl bootstrap --envoy` prints declares it).
    public static let sdsClusterName = "sds-grpc"
    /// Istio's ALPN for mesh mTLS between sidecars.
    static let meshALPN = ["istio-peer-exchange", "istio"]
    /// Where Debian and most distributions keep the system trust bundle: what an Envoy
    /// verifies a SIMPLE/MUTUAL server against when `caCertificates` is not given (as Istio
    /// does with VERIFY_CERTIFICATE_AT_CLIENT).
    static let systemTrustBundle = "/etc/ssl/certs/ca-certificates.crt"

    /// The TLS context an Envoy sidecar gets for `settings` on the cluster named by `sni` parts:
    /// ISTIO_MUTUAL with the workload certificate and trust bundle over SDS from mesh-agent
    /// (`default`, `ROOTCA`) and istiod's SNI `outbound_.PORT_.SUBSET_.HOST`; SIMPLE and MUTUAL
    /// with the files the rule names. nil for DISABLE or no `tls`.
    static func envoyContext(
        _ settings: ClientTLSSettings?, endpoints: [Endpoint], extraIdentities: [String],
        trustDomain: String, port: UInt32, subset: String?, host: String
    )
        -> Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext?
    {
        guard let settings, let mode = settings.mode, mode != .disable else { return nil }
        var context = Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext()
        var common = Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext()
        if mode == .istioMutual {
            let identities =
                settings.subjectAltNames.isEmpty
                ? Set(endpoints.map { "spiffe://\(trustDomain)/ns/\($0.source.namespace)/sa/\($0.serviceAccount ?? "default")" } + extraIdentities)
                    .sorted()
                : Set(settings.subjectAltNames).sorted()
            var checks = Envoy_Extensions_TransportSockets_Tls_V3_CertificateValidationContext()
            checks.matchTypedSubjectAltNames = identities.map { uriSAN($0) }
            useMeshCertificates(&common, checks: checks)
            common.alpnProtocols = meshALPN
            context.sni = settings.sni ?? "outbound_.\(port)_.\(subset ?? "")_.\(host)"
        } else {
            var validation = Envoy_Extensions_TransportSockets_Tls_V3_CertificateValidationContext()
            if settings.insecureSkipVerify == true {
                validation.trustChainVerification = .acceptUntrusted
            } else {
                validation.trustedCa.filename = settings.caCertificates ?? systemTrustBundle
                if let crl = settings.caCrl { validation.crl.filename = crl }
                validation.matchTypedSubjectAltNames = settings.subjectAltNames.map { dnsOrURISAN($0) }
            }
            common.validationContext = validation
            if mode == .mutual, let certificate = settings.clientCertificate, let key = settings.privateKey {
                var pair = Envoy_Extensions_TransportSockets_Tls_V3_TlsCertificate()
                pair.certificateChain.filename = certificate
                pair.privateKey.filename = key
                common.tlsCertificates = [pair]
            }
            // Istio's auto SNI: the destination host when the rule names none.
            context.sni = settings.sni ?? host
        }
        context.commonTlsContext = common
        return context
    }

    /// The workload's mesh certificate and trust bundle over SDS from mesh-agent (`default` and
    /// `ROOTCA` through `sds-grpc`), `checks` (SAN matchers) applied beside the bundle: what
    /// every ISTIO_MUTUAL context, client or server, presents and verifies with.
    static func useMeshCertificates(
        _ common: inout Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext,
        checks: Envoy_Extensions_TransportSockets_Tls_V3_CertificateValidationContext
    ) {
        common.tlsCertificateSdsSecretConfigs = [sdsSecret(identityCertificateName)]
        var combined = Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext.CombinedCertificateValidationContext()
        combined.defaultValidationContext = checks
        combined.validationContextSdsSecretConfig = sdsSecret(rootCertificateName)
        common.combinedValidationContext = combined
    }

    static func sdsSecret(_ name: String) -> Envoy_Extensions_TransportSockets_Tls_V3_SdsSecretConfig {
        var grpc = Envoy_Config_Core_V3_GrpcService()
        grpc.envoyGrpc.clusterName = sdsClusterName
        var api = Envoy_Config_Core_V3_ApiConfigSource()
        api.apiType = .grpc
        api.transportApiVersion = .v3
        api.setNodeOnFirstMessageOnly = true
        api.grpcServices = [grpc]
        var secret = Envoy_Extensions_TransportSockets_Tls_V3_SdsSecretConfig()
        secret.name = name
        secret.sdsConfig.apiConfigSource = api
        secret.sdsConfig.resourceApiVersion = .v3
        return secret
    }

    private static func uriSAN(_ identity: String) -> Envoy_Extensions_TransportSockets_Tls_V3_SubjectAltNameMatcher {
        var san = Envoy_Extensions_TransportSockets_Tls_V3_SubjectAltNameMatcher()
        san.sanType = .uri
        san.matcher.exact = identity
        return san
    }

    /// A SAN as written in a rule: a URI when it has a scheme (`spiffe://…`), else a DNS name.
    static func dnsOrURISAN(_ name: String) -> Envoy_Extensions_TransportSockets_Tls_V3_SubjectAltNameMatcher {
        var san = uriSAN(name)
        if !name.contains("://") { san.sanType = .dns }
        return san
    }
}

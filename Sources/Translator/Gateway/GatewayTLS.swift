import EnvoyAPI
import MeshModel
import SwiftProtobuf

/// The DownstreamTlsContext of a Gateway server that terminates TLS, in istiod's shapes:
///
/// - `credentialName`: the certificate over SDS as `kubernetes://NAME` from meshd itself
///   (`sds_config: {ads: {}}`), and for MUTUAL/OPTIONAL_MUTUAL the client CA as
///   `kubernetes://NAME-cacert`;
/// - ISTIO_MUTUAL: the gateway's own mesh certificate and trust bundle from mesh-agent
///   (`default`, `ROOTCA` over the `sds-grpc` cluster), a client certificate required;
/// - certificate files (`serverCertificate`, `privateKey`, `caCertificates`): served by the
///   gateway's mesh-agent over `sds-grpc` under istio-agent's names, `file-cert:CERT~KEY` and
///   `file-root:CA` (the agent reads the files, and pushes a new version when they change);
///   `caCrl` stays a file Envoy reads, in the default validation context beside the SDS one.
///
/// ALPN is `h2`, `http/1.1` (a TLS server with ISTIO_MUTUAL also offers `istio-peer-exchange`);
/// TLS versions and cipher suites go in `tls_params` for SIMPLE and the MUTUAL modes.
enum GatewayTLS {
    /// istiod's SDS resource name for a credential: `kubernetes://NAME` unless it already has
    /// a scheme.
    static func resourceName(_ credential: String) -> String {
        for prefix in ["kubernetes://", "kubernetes-gateway://", "configmap://"] where credential.hasPrefix(prefix) {
            return credential
        }
        return "kubernetes://\(credential)"
    }

    /// istio-agent's SDS name for a certificate and key read from files: `file-cert:CERT~KEY`.
    static func fileCertificateName(certificate: String, key: String) -> String { "file-cert:\(certificate)~\(key)" }

    /// istio-agent's SDS name for a CA bundle read from a file: `file-root:CA`.
    static func fileRootName(_ path: String) -> String { "file-root:\(path)" }

    /// The client CA's name for a credential: `kubernetes://NAME-cacert`.
    static func caResourceName(_ credential: String) -> String { resourceName(credential) + "-cacert" }

    /// The context of `server` (nil when it does not terminate TLS).
    static func context(_ server: GatewayServer) -> Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext? {
        guard let tls = server.tls, !tls.mode.isPassthrough else { return nil }
        var common = Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext()
        common.alpnProtocols =
            tls.mode == .istioMutual && server.port.protocol == .tls ? ["istio-peer-exchange", "h2", "http/1.1"] : ["h2", "http/1.1"]
        let validatesClient = tls.mode == .mutual || tls.mode == .optionalMutual
        var clientChecks = Envoy_Extensions_TransportSockets_Tls_V3_CertificateValidationContext()
        clientChecks.matchSubjectAltNames = tls.subjectAltNames.map { name in
            var matcher = Envoy_Type_Matcher_V3_StringMatcher()
            matcher.exact = name
            return matcher
        }
        clientChecks.verifyCertificateSpki = tls.verifyCertificateSpki
        clientChecks.verifyCertificateHash = tls.verifyCertificateHash
        switch tls.mode {
        case .istioMutual:
            UpstreamTLS.useMeshCertificates(&common, checks: clientChecks)
        case .simple, .mutual, .optionalMutual:
            if let credential = tls.credentialName {
                common.tlsCertificateSdsSecretConfigs = [adsSecret(resourceName(credential))]
                if validatesClient {
                    var combined = Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext.CombinedCertificateValidationContext()
                    combined.defaultValidationContext = clientChecks
                    combined.validationContextSdsSecretConfig = adsSecret(caResourceName(credential))
                    common.combinedValidationContext = combined
                } else if !tls.subjectAltNames.isEmpty {
                    common.validationContext = clientChecks
                }
            } else {
                common.tlsCertificateSdsSecretConfigs = [
                    UpstreamTLS.sdsSecret(fileCertificateName(certificate: tls.serverCertificate ?? "", key: tls.privateKey ?? ""))
                ]
                if validatesClient {
                    var checks = clientChecks
                    if let crl = tls.caCrl { checks.crl.filename = crl }
                    var combined = Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext.CombinedCertificateValidationContext()
                    combined.defaultValidationContext = checks
                    combined.validationContextSdsSecretConfig = UpstreamTLS.sdsSecret(fileRootName(tls.caCertificates ?? ""))
                    common.combinedValidationContext = combined
                } else if !tls.subjectAltNames.isEmpty {
                    common.validationContext = clientChecks
                }
            }
            if let parameters = parameters(tls) { common.tlsParams = parameters }
        case .passthrough, .autoPassthrough:
            return nil
        }
        var context = Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext()
        context.commonTlsContext = common
        context.requireClientCertificate = .init(tls.mode == .mutual || tls.mode == .istioMutual)
        return context
    }

    /// `tls_params` from the server's versions and cipher suites (those BoringSSL knows, once
    /// each, in the order written); nil when nothing is set.
    static func parameters(_ tls: ServerTLSSettings) -> Envoy_Extensions_TransportSockets_Tls_V3_TlsParameters? {
        var parameters = Envoy_Extensions_TransportSockets_Tls_V3_TlsParameters()
        if let low = tls.minProtocolVersion, low != .auto { parameters.tlsMinimumProtocolVersion = version(low) }
        if let high = tls.maxProtocolVersion, high != .auto { parameters.tlsMaximumProtocolVersion = version(high) }
        parameters.cipherSuites = ServerTLSSettings.usableCipherSuites(tls.cipherSuites)
        return parameters == .init() ? nil : parameters
    }

    private static func version(_ version: ServerTLSSettings.ProtocolVersion) -> Envoy_Extensions_TransportSockets_Tls_V3_TlsParameters.TlsProtocol {
        switch version {
        case .auto: .tlsAuto
        case .tls10: .tlsv10
        case .tls11: .tlsv11
        case .tls12: .tlsv12
        case .tls13: .tlsv13
        }
    }

    /// An SDS secret meshd serves itself, over the proxy's ADS stream (istiod's shape for
    /// credentials).
    private static func adsSecret(_ name: String) -> Envoy_Extensions_TransportSockets_Tls_V3_SdsSecretConfig {
        var secret = Envoy_Extensions_TransportSockets_Tls_V3_SdsSecretConfig()
        secret.name = name
        secret.sdsConfig.ads = Envoy_Config_Core_V3_AggregatedConfigSource()
        secret.sdsConfig.resourceApiVersion = .v3
        return secret
    }
}

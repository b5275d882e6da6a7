import EnvoyAPI
import Foundation
import MeshModel

/// SDS over ADS for gateways, as istiod serves `credentialName` (`pilot/pkg/xds/sds.go`): for
/// each TLS credential of the gateway's namespace, `kubernetes://NAME` (certificate chain and
/// private key, inline) and, when the credential has a client CA bundle, `kubernetes://NAME-cacert`
/// (a validation context trusting it).
///
/// Only a gateway authenticated by its mesh certificate reads credentials, and only those of the
/// namespace its certificate names (`ViewKey.readsCredentials`; on the mTLS port the proxy's
/// namespace is its certificate's): any other stream gets none. The push server answers SDS per
/// requested name, so a gateway receives the credentials its listeners name, never the rest.
struct GatewaySecretGenerator: ResourceGenerator {
    var typeURL: String { TypeURL.secret }

    func generate(for view: ProxyView, in push: PushContext) -> [XDSResource] {
        guard view.key.readsCredentials else { return [] }
        var resources: [XDSResource] = []
        for entry in push.credentials.entries(namespace: view.key.namespace) {
            guard let material = entry.material else { continue }
            let name = GatewayTLS.resourceName(entry.key.name)
            resources.append(XDSResource(name: name, message: Self.certificate(name, material)))
            if let ca = material.caCertificatesPEM {
                let caName = GatewayTLS.caResourceName(entry.key.name)
                resources.append(XDSResource(name: caName, message: Self.validation(caName, ca)))
            }
        }
        return resources.sorted { $0.name < $1.name }
    }

    /// `NAME`: the chain and key, inline, as istiod sends them.
    static func certificate(_ name: String, _ material: CredentialMaterial) -> Envoy_Extensions_TransportSockets_Tls_V3_Secret {
        var secret = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
        secret.name = name
        secret.tlsCertificate.certificateChain.inlineBytes = Data(material.certificateChainPEM.utf8)
        secret.tlsCertificate.privateKey.inlineBytes = Data(material.privateKeyPEM.utf8)
        return secret
    }

    /// `NAME-cacert`: the client CA bundle as a validation context.
    static func validation(_ name: String, _ caPEM: String) -> Envoy_Extensions_TransportSockets_Tls_V3_Secret {
        var secret = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
        secret.name = name
        secret.validationContext.trustedCa.inlineBytes = Data(caPEM.utf8)
        return secret
    }
}

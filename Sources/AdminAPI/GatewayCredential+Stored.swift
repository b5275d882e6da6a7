import CertificateAuthority
import MeshModel

extension GatewayCredential {
    /// The key material the push loop reads by digest.
    public var material: CredentialMaterial {
        CredentialMaterial(certificateChainPEM: chainPEM, privateKeyPEM: keyPEM, caCertificatesPEM: caPEM, digest: digest)
    }

    /// The public half a `Secret` resource shows.
    public var spec: TLSSecret {
        TLSSecret(
            subject: summary.subject, subjectAltNames: summary.subjectAltNames, serial: summary.serial, notAfter: summary.notAfter,
            hasClientCA: caPEM != nil, material: digest)
    }
}

import Foundation
import X509

extension LocalCertificateAuthority {
    /// The file names of Istio's `cacerts` layout, so an operator's existing secret can be mounted as-is.
    static let pluggedCertificateFile = "ca-cert.pem"
    static let pluggedKeyFile = "ca-key.pem"
    static let pluggedRootFile = "root-cert.pem"
    static let pluggedChainFile = "cert-chain.pem"

    /// Loads a plugged-in CA from Istio's `cacerts` layout in `directory`.
    ///
    /// - `ca-cert.pem`: the intermediate that signs (its first certificate);
    /// - `ca-key.pem`: its private key (EC or RSA; PKCS#8, SEC1 or PKCS#1);
    /// - `root-cert.pem`: the offline root(s) operators distribute; becomes `rootCertificatePEM`;
    /// - `cert-chain.pem`: intermediate → … → root; any further intermediates between ca-cert and the
    ///   root are taken from here (missing is tolerated when ca-cert is signed by the root directly).
    ///
    /// Checks, each an `internalError` naming the file: the key matches ca-cert; ca-cert is a CA
    /// allowed to sign certificates; it chains to a certificate of root-cert.pem through signatures
    /// that verify; every certificate on the path is valid now. Nothing is written.
    public static func loadPlugged(
        directory: URL, trustDomain: String,
        policy: CertificateSigningPolicy = .init()
    ) throws(CAError) -> LocalCertificateAuthority {
        let certificateURL = directory.appendingPathComponent(pluggedCertificateFile)
        let keyURL = directory.appendingPathComponent(pluggedKeyFile)
        let rootURL = directory.appendingPathComponent(pluggedRootFile)
        let chainURL = directory.appendingPathComponent(pluggedChainFile)

        let caCertificates = try PEMCertificates.parse(try SecureFileStore.readRequired(certificateURL), source: certificateURL.path)
        let signing = caCertificates[0]
        let key = try loadKey(
            try SecureFileStore.readRequired(keyURL), source: keyURL.path,
            matching: signing, certificateSource: certificateURL.path)
        let roots = try PEMCertificates.parse(try SecureFileStore.readRequired(rootURL), source: rootURL.path)
        var intermediates = Array(caCertificates.dropFirst())
        if let chainPEM = try SecureFileStore.read(chainURL) {
            intermediates += try PEMCertificates.parse(chainPEM, source: chainURL.path)
        }
        let path = try ChainBuilder.path(
            from: signing, intermediates: intermediates, roots: roots,
            now: Date(), source: certificateURL.path)
        return try LocalCertificateAuthority(
            trustDomain: trustDomain, policy: policy,
            issuer: CertificateIssuer(signingKey: key, chain: path), roots: roots)
    }
}

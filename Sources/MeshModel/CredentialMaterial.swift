/// The key material of a gateway TLS credential, as the store's vault keeps it and the push
/// server serves it over SDS: never part of a config resource (`TLSSecret` names it by digest).
///
/// `description` and `debugDescription` name the digest only, so interpolating one into a log
/// line or an error cannot print a key.
public struct CredentialMaterial: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The certificate chain, leaf first, PEM.
    public var certificateChainPEM: String
    /// The private key, PEM.
    public var privateKeyPEM: String
    /// The client CA bundle, PEM (served as `NAME-cacert`), when one was given.
    public var caCertificatesPEM: String?
    /// `sha256:HEX` over the three parts: the name of this material in the vault.
    public var digest: String

    /// Creates material; `digest` is computed by whoever checked it (`GatewayCredential`).
    public init(certificateChainPEM: String, privateKeyPEM: String, caCertificatesPEM: String?, digest: String) {
        self.certificateChainPEM = certificateChainPEM
        self.privateKeyPEM = privateKeyPEM
        self.caCertificatesPEM = caCertificatesPEM
        self.digest = digest
    }

    /// `credential material sha256:…`: never the key.
    public var description: String { "credential material \(digest)" }
    /// Same as `description`.
    public var debugDescription: String { description }
}

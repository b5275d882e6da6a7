import Foundation

/// A certificate authority that signs workload CSRs: the seam between the CA gRPC service and the
/// key material (a local self-signed root, a plugged-in intermediate, or an in-memory test CA).
///
/// Implementations must be safe to call from many tasks at once.
public protocol CertificateAuthority: Sendable {
    /// The trust anchor operators distribute, PEM (one or more certificates). For a plugged-in CA
    /// this is `root-cert.pem`, the offline root, not the intermediate that signs.
    var rootCertificatePEM: String { get }
    /// When the trust anchor that the signing certificate chains to expires.
    var rootExpiry: Date { get }
    /// The SPIFFE trust domain this CA issues identities in; the CA service builds the caller's
    /// identity in it.
    var trustDomain: String { get }

    /// Verifies the CSR's signature, takes ONLY its public key, and issues a leaf for `identity`.
    ///
    /// The leaf's only SAN is the URI `identity.uri`; nothing from the CSR's subject, SANs or
    /// requested extensions is copied. `ttl` nil or zero means the policy's default; a TTL beyond
    /// the policy's maximum or a negative one throws `invalidArgument`.
    ///
    /// - Returns: PEM certificates ordered leaf, intermediates, root.
    func sign(csrPEM: String, identity: SpiffeID, ttl: Duration?) throws(CAError) -> [String]
}

import Foundation
// The SPI is the library's sanctioned way to validate at a caller-given time (its public
// `init(validationTime:)` is deprecated in its favour); `now` is part of our contract.
@_spi(FixedExpiryValidationTime) import X509

extension LocalCertificateAuthority {
    /// The SPIFFE identity of a TLS peer whose certificate chain verifies against this CA, or nil.
    ///
    /// `chain` is the peer's chain, leaf first, as the TLS layer reports it (the leaf alone is enough:
    /// this CA's own intermediates are added). The chain must verify to one of this CA's roots under
    /// RFC 5280 at `now`, and the leaf must be a non-CA certificate whose only URI SAN is a SPIFFE ID
    /// in `trustDomain`. Used to authenticate certificate renewals over mTLS; the TLS handshake has
    /// already proved the peer holds the leaf's private key.
    ///
    /// Thread-safe; `async` only because `X509.Verifier` is.
    public func identity(ofPeerChain chain: [Certificate], now: Date = Date()) async -> SpiffeID? {
        // A bound on attacker-supplied work: real meshes are root → intermediate → leaf.
        guard let leaf = chain.first, chain.count <= ChainBuilder.maximumLength else { return nil }
        let trustDomain = self.trustDomain
        var verifier = Verifier(rootCertificates: CertificateStore(roots)) {
            RFC5280Policy(fixedExpiryValidationTime: now)
            WorkloadLeafPolicy(trustDomain: trustDomain)
        }
        let intermediates = CertificateStore(Array(chain.dropFirst()) + issuer.chain.dropLast())
        guard case .validCertificate(let validated) = await verifier.validate(leaf: leaf, intermediates: intermediates) else {
            return nil
        }
        return WorkloadLeafPolicy.identity(of: validated.leaf, trustDomain: trustDomain)
    }
}

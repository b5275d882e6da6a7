import Crypto
import Foundation
import SwiftASN1
import X509

/// The signing half of a CA: a key, its certificate, and the chain from that certificate up to the
/// root. It builds end-entity certificates and knows nothing about files or identities.
///
/// Immutable, hence `Sendable`; signing with a swift-crypto key is thread-safe.
struct CertificateIssuer: Sendable {
    /// The key that signs leaves.
    let signingKey: Certificate.PrivateKey
    /// The certificate of `signingKey`: the root for a self-signed CA, the intermediate for a plugged-in one.
    let chain: [Certificate]
    /// `chain` as PEM, encoded once: signing certificate first, root last (one element for a self-signed root).
    let chainPEM: [String]
    /// The key identifier written as AKI in every leaf (the issuer's SKI, or the SHA-1 of its key when it has none).
    private let authorityKeyID: ArraySlice<UInt8>

    /// The certificate that signs; `chain.first`.
    var signingCertificate: Certificate { chain[0] }

    /// Creates an issuer. `chain` runs from the certificate of `signingKey` to the root; the caller has
    /// checked that the key matches and the chain verifies.
    init(signingKey: Certificate.PrivateKey, chain: [Certificate]) throws(CAError) {
        precondition(!chain.isEmpty, "an issuer needs its own certificate")
        self.signingKey = signingKey
        self.chain = chain
        var pems: [String] = []
        for certificate in chain { pems.append(try PEMCertificates.encode(certificate)) }
        chainPEM = pems
        let ski: SubjectKeyIdentifier?
        do {
            ski = try chain[0].extensions.subjectKeyIdentifier
        } catch {
            throw CAError(code: .internalError, message: "signing certificate has a malformed subject key identifier", cause: error)
        }
        authorityKeyID = ski?.keyIdentifier ?? SubjectKeyIdentifier(hash: chain[0].publicKey).keyIdentifier
    }

    /// Issues an end-entity certificate for `publicKey` naming only `names`.
    ///
    /// The subject is empty and the SAN extension critical (RFC 5280 §4.2.1.6 requires that pairing),
    /// as in Istio's workload certificates: every identity lives in the SAN, so nothing else can be
    /// mistaken for one. notBefore is back-dated 60 s for peers whose clocks run slightly behind;
    /// notAfter is capped at the signing certificate's own expiry, beyond which the leaf could not
    /// verify anyway.
    func issue(publicKey: Certificate.PublicKey, names: [GeneralName], lifetime: Duration, now: Date) throws(CAError) -> Certificate {
        let seconds = Double(lifetime.components.seconds) + Double(lifetime.components.attoseconds) / 1e18
        let notAfter = min(now.addingTimeInterval(seconds), signingCertificate.notValidAfter)
        guard notAfter > now else {
            throw CAError(code: .internalError, message: "signing certificate expired at \(signingCertificate.notValidAfter)")
        }
        do {
            let usages = try ExtendedKeyUsage([.serverAuth, .clientAuth])
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                usages
                Critical(SubjectAlternativeNames(names))
                SubjectKeyIdentifier(hash: publicKey)
                AuthorityKeyIdentifier(keyIdentifier: authorityKeyID)
            }
            return try Certificate(
                version: .v3,
                serialNumber: Self.randomSerialNumber(),
                publicKey: publicKey,
                notValidBefore: now.addingTimeInterval(-60),
                notValidAfter: notAfter,
                issuer: signingCertificate.subject,
                subject: DistinguishedName(),
                extensions: extensions,
                issuerPrivateKey: signingKey
            )
        } catch {
            throw CAError(code: .internalError, message: "cannot sign certificate", cause: error)
        }
    }

    /// 16 random bytes, top bit cleared so the DER INTEGER is positive and the next bit set so it is
    /// never shortened: 126 random bits (the CA/B Forum asks for 64), always the same width.
    static func randomSerialNumber() -> Certificate.SerialNumber {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[0] = (bytes[0] & 0x7F) | 0x40
        return Certificate.SerialNumber(bytes: bytes)
    }
}

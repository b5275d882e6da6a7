import ArgumentParser
import Crypto
import SwiftASN1
import X509
// RSA keys live in swift-crypto's _CryptoExtras, which X509 already links; it is imported here
// rather than declared because the mesh-agent target's dependency list is owned by Package.swift.
import _CryptoExtras

/// The algorithm of the workload's private key (`--key-type`).
enum KeyType: String, CaseIterable, Sendable, ExpressibleByArgument {
    /// ECDSA on P-256: small, fast, what Istio issues by default today.
    case ec
    /// RSA 2048, for peers that still cannot do ECDSA.
    case rsa
}

/// A freshly generated private key and the CSR that proves possession of it.
///
/// A new key per issuance, never reused across renewals: a leaked key is then only good until
/// the next rotation, which is the point of short-lived certificates.
struct WorkloadKey: Sendable {
    /// The private key, as X509 uses it for signing and comparing public keys.
    let privateKey: Certificate.PrivateKey
    /// The private key as PEM (PKCS#8 for EC, PKCS#1 for RSA), what `key.pem` holds.
    let pem: String

    /// Generates a new key of `type`.
    static func generate(_ type: KeyType) throws -> WorkloadKey {
        switch type {
        case .ec:
            let key = P256.Signing.PrivateKey()
            return WorkloadKey(privateKey: Certificate.PrivateKey(key), pem: key.pemRepresentation)
        case .rsa:
            let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            return WorkloadKey(privateKey: Certificate.PrivateKey(key), pem: key.pemRepresentation)
        }
    }

    /// A PEM CSR signed with this key.
    ///
    /// The subject is `CN=commonName` for people reading CA logs and nothing else: meshd takes
    /// the identity from the authenticated caller, never from the CSR, so no SANs are requested.
    func certificateSigningRequest(commonName: String) throws -> String {
        let subject = try DistinguishedName { CommonName(commonName) }
        let csr = try CertificateSigningRequest(
            version: .v1,
            subject: subject,
            privateKey: privateKey,
            attributes: CertificateSigningRequest.Attributes())
        return try csr.serializeAsPEM().pemString
    }
}

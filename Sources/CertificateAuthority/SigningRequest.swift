import Crypto
import X509
import _CryptoExtras

/// A PKCS#10 CSR that has been parsed, whose signature has been verified, and whose key is one the
/// CA will certify. Only `publicKey` survives: the CSR's subject, SANs and requested extensions are
/// the caller's wishes and are deliberately dropped, because the identity comes from authentication.
///
/// Shared by `LocalCertificateAuthority.sign` and `CertificateService` (which checks the CSR before
/// calling any `CertificateAuthority`, so malformed CSRs are counted the same whatever the CA).
struct SigningRequest: Sendable {
    /// The key the certificate will certify; the CSR's signature proved the caller holds its private half.
    let publicKey: Certificate.PublicKey

    /// Bounds parsing work on hostile input; a real CSR is under 2 KiB even with an RSA-4096 key.
    static let maximumPEMBytes = 64 * 1024
    /// RSA below 2048 bits is breakable; above 8192 the verification cost becomes a cheap DoS lever.
    static let rsaKeySizes = 2048...8192

    /// Parses and checks `pem`; every failure is `invalidArgument` with a message naming the problem.
    init(pem: String) throws(CAError) {
        guard pem.utf8.count <= Self.maximumPEMBytes else {
            throw CAError(code: .invalidArgument, message: "CSR is larger than \(Self.maximumPEMBytes) bytes")
        }
        let csr: CertificateSigningRequest
        do {
            csr = try CertificateSigningRequest(pemEncoded: pem)
        } catch let error as CryptoKitError {
            // swift-crypto will not even represent an RSA key under 2048 bits, so a weak key surfaces
            // as a parse failure; say what is actually wrong.
            if case .incorrectParameterSize = error {
                throw CAError(
                    code: .invalidArgument,
                    message:
                        "CSR public key has an unsupported size (RSA keys need \(Self.rsaKeySizes.lowerBound) to \(Self.rsaKeySizes.upperBound) bits)",
                    cause: error)
            }
            throw CAError(code: .invalidArgument, message: "CSR is not a PEM-encoded PKCS#10 certificate request", cause: error)
        } catch {
            throw CAError(code: .invalidArgument, message: "CSR is not a PEM-encoded PKCS#10 certificate request", cause: error)
        }
        // SHA-1 is refused even though the library would verify it: a collision-prone digest makes
        // the proof of possession meaningless.
        let accepted: [Certificate.SignatureAlgorithm] = [
            .ecdsaWithSHA256, .ecdsaWithSHA384, .ecdsaWithSHA512,
            .sha256WithRSAEncryption, .sha384WithRSAEncryption, .sha512WithRSAEncryption,
        ]
        guard accepted.contains(csr.signatureAlgorithm) else {
            throw CAError(code: .invalidArgument, message: "CSR signature algorithm \(csr.signatureAlgorithm) is not accepted")
        }
        try Self.checkKey(csr.publicKey)
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw CAError(code: .invalidArgument, message: "CSR signature invalid")
        }
        publicKey = csr.publicKey
    }

    /// EC P-256 / P-384 and RSA 2048–8192 bits: what Envoy and gRPC clients generate and verify.
    static func checkKey(_ key: Certificate.PublicKey) throws(CAError) {
        if P256.Signing.PublicKey(key) != nil || P384.Signing.PublicKey(key) != nil { return }
        if let rsa = _RSA.Signing.PublicKey(key) {
            guard rsaKeySizes.contains(rsa.keySizeInBits) else {
                throw CAError(
                    code: .invalidArgument,
                    message: "CSR RSA key is \(rsa.keySizeInBits) bits; \(rsaKeySizes.lowerBound) to \(rsaKeySizes.upperBound) required")
            }
            return
        }
        throw CAError(code: .invalidArgument, message: "CSR key type \(key) is not accepted (EC P-256, P-384 or RSA 2048+)")
    }
}

import Foundation
import X509

/// Finds and checks the path from a signing certificate up to one of the trust anchors, synchronously.
///
/// Why not `X509.Verifier`: it is `async`, and loading a plugged-in CA happens in a synchronous
/// `throws` initialiser at startup. The input here is the operator's own files, not a peer's claim, so
/// the check is for misconfiguration: names link, signatures verify, each issuer is a CA allowed to
/// sign certificates, and everything is within its validity period. Peer chains go through
/// `X509.Verifier` (see `LocalCertificateAuthority.identity(ofPeerChain:now:)`).
enum ChainBuilder {
    /// Longer paths than this are a loop or a mistake, not a real PKI.
    static let maximumLength = 8

    /// The path `[certificate, intermediates..., root]`, where root is one of `roots`.
    ///
    /// - Throws: `internalError` naming `source` and the certificate whose issuer is missing or unusable.
    static func path(
        from certificate: Certificate, intermediates: [Certificate], roots: [Certificate],
        now: Date, source: String
    ) throws(CAError) -> [Certificate] {
        try checkUsable(certificate, now: now, what: "\(source) certificate \(certificate.subject)")
        var path = [certificate]
        while path.count <= maximumLength {
            let current = path[path.count - 1]
            if roots.contains(current) { return path }
            let issuedCurrent = { (candidate: Certificate) -> Bool in
                candidate.subject == current.issuer && !path.contains(candidate)
                    && candidate.publicKey.isValidSignature(current.signature, for: current)
            }
            // A root that signed `current` ends the path, even if the bundle also holds a cross-signed copy.
            if let root = roots.first(where: issuedCurrent) {
                try checkUsable(root, now: now, what: "root certificate \(root.subject)")
                return path + [root]
            }
            guard let next = intermediates.first(where: issuedCurrent) else {
                throw CAError(
                    code: .internalError,
                    message: "\(source) does not chain to the root certificate: no issuer found for \(current.subject) (issuer \(current.issuer))")
            }
            try checkUsable(next, now: now, what: "intermediate certificate \(next.subject)")
            path.append(next)
        }
        throw CAError(code: .internalError, message: "\(source): certificate path longer than \(maximumLength)")
    }

    /// A CA certificate (basicConstraints CA:true, keyCertSign when keyUsage is present) valid at `now`.
    static func checkUsable(_ certificate: Certificate, now: Date, what: String) throws(CAError) {
        guard certificate.notValidBefore <= now, now <= certificate.notValidAfter else {
            throw CAError(
                code: .internalError,
                message: "\(what) is not valid now (valid \(certificate.notValidBefore) to \(certificate.notValidAfter))")
        }
        do {
            guard case .isCertificateAuthority = try certificate.extensions.basicConstraints else {
                throw CAError(code: .internalError, message: "\(what) is not a CA certificate (basicConstraints CA:true missing)")
            }
            if let usage = try certificate.extensions.keyUsage, !usage.keyCertSign {
                throw CAError(code: .internalError, message: "\(what) may not sign certificates (keyUsage keyCertSign missing)")
            }
        } catch let error as CAError {
            throw error
        } catch {
            throw CAError(code: .internalError, message: "\(what) has malformed extensions", cause: error)
        }
    }
}

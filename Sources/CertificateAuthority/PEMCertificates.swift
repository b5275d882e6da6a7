import SwiftASN1
import X509

/// PEM encoding and decoding of certificate bundles, with errors that name the file.
enum PEMCertificates {
    /// Every `CERTIFICATE` block in `pem`, in order; other blocks (keys, parameters) are skipped so an
    /// operator's bundle with comments or a stray key block still loads. At least one is required.
    static func parse(_ pem: String, source: String) throws(CAError) -> [Certificate] {
        let certificates: [Certificate]
        do {
            certificates = try PEMDocument.parseMultiple(pemString: pem)
                .filter { $0.discriminator == Certificate.defaultPEMDiscriminator }
                .map { try Certificate(pemDocument: $0) }
        } catch {
            throw CAError(code: .internalError, message: "\(source): not a valid PEM certificate bundle", cause: error)
        }
        guard !certificates.isEmpty else {
            throw CAError(code: .internalError, message: "\(source): contains no certificate")
        }
        return certificates
    }

    /// One certificate as PEM, with a trailing newline so bundles can be concatenated as-is.
    static func encode(_ certificate: Certificate) throws(CAError) -> String {
        do {
            return try certificate.serializeAsPEM().pemString + "\n"
        } catch {
            throw CAError(code: .internalError, message: "cannot PEM-encode certificate \(certificate.serialNumber)", cause: error)
        }
    }
}

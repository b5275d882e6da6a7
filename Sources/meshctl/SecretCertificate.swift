import Foundation
import MeshCommon
import MeshModel
import X509

/// The first certificate of a `Secret` resource as meshd's config dump shows it (proto JSON:
/// `tls_certificate.certificate_chain.inline_bytes` or `validation_context.trusted_ca.inline_bytes`,
/// base64 of PEM): its serial (hex) and expiry, for `proxy-config secrets`.
struct SecretCertificate {
    let serial: String
    let notAfter: String

    static func first(in secret: JSONValue) -> SecretCertificate? {
        let encoded =
            secret["tls_certificate"]?["certificate_chain"]?["inline_bytes"]?.stringValue
            ?? secret["validation_context"]?["trusted_ca"]?["inline_bytes"]?.stringValue
        guard let encoded, let data = Data(base64Encoded: encoded), let pem = String(data: data, encoding: .utf8) else { return nil }
        guard let begin = pem.range(of: "-----BEGIN CERTIFICATE-----"),
            let end = pem.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<pem.endIndex),
            let certificate = try? Certificate(pemEncoded: String(pem[begin.lowerBound..<end.upperBound]))
        else { return nil }
        return SecretCertificate(
            serial: certificate.serialNumber.bytes.map { String(format: "%02x", $0) }.joined(),
            notAfter: certificate.notValidAfter.rfc3339)
    }
}

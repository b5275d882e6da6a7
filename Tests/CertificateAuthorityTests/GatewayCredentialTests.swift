import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

@testable import CertificateAuthority

/// What a secret store accepts as a gateway's TLS credential, and what it refuses.
@Suite struct GatewayCredentialTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// A self-signed leaf for `reviews.example.com` valid `from`…`until` (relative to `now`), and its key.
    static func leaf(from: TimeInterval = -3600, until: TimeInterval = 90 * 86_400) throws -> (cert: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("reviews.example.com") }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(bytes: [0x0a, 0x1b]), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(from), notValidAfter: now.addingTimeInterval(until), issuer: name, subject: name,
            extensions: try Certificate.Extensions {
                SubjectAlternativeNames([.dnsName("reviews.example.com"), .ipAddress(ASN1OctetString(contentBytes: [10, 0, 0, 9]))])
            },
            issuerPrivateKey: .init(key))
        return (try certificate.serializeAsPEM().pemString, key.pemRepresentation)
    }

    @Test func aMatchingPairIsAcceptedAndSummarisedWithoutTheKey() throws {
        let pair = try Self.leaf()
        let credential = try GatewayCredential.check(certificatePEM: pair.cert, keyPEM: pair.key, caPEM: pair.cert, now: Self.now)
        #expect(credential.summary.subject == "CN=reviews.example.com")
        #expect(credential.summary.subjectAltNames == ["reviews.example.com", "10.0.0.9"])
        #expect(credential.summary.serial == "0a1b")
        #expect(credential.warnings.isEmpty)
        let keyBody = pair.key.split(separator: "\n").filter { !$0.hasPrefix("-----") }
        for line in keyBody { #expect(!credential.description.contains(line)) }
    }

    @Test func aKeyOfAnotherCertificateIsRefused() throws {
        let pair = try Self.leaf()
        let other = try Self.leaf()
        let error = #expect(throws: CAError.self) {
            try GatewayCredential.check(certificatePEM: pair.cert, keyPEM: other.key, now: Self.now)
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message == "the key does not match the certificate in the certificate")
    }

    @Test func expiredIsRefusedAndSoonOrNotYetValidAreWarned() throws {
        let expired = try Self.leaf(from: -90 * 86_400, until: -60)
        let error = #expect(throws: CAError.self) {
            try GatewayCredential.check(certificatePEM: expired.cert, keyPEM: expired.key, now: Self.now)
        }
        #expect(error?.message.contains("expired at") == true)
        let soon = try Self.leaf(until: 10 * 86_400)
        #expect(
            try GatewayCredential.check(certificatePEM: soon.cert, keyPEM: soon.key, now: Self.now).warnings.first?.contains("expires in 10 day(s)")
                == true)
        let early = try Self.leaf(from: 3600)
        #expect(
            try GatewayCredential.check(certificatePEM: early.cert, keyPEM: early.key, now: Self.now).warnings.first?.contains("is not valid before")
                == true)
    }

    @Test(arguments: ["", "not pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
    func malformedCertificatesAreRefused(_ text: String) throws {
        let pair = try Self.leaf()
        #expect(throws: CAError.self) { try GatewayCredential.check(certificatePEM: text, keyPEM: pair.key, now: Self.now) }
        #expect(throws: CAError.self) { try GatewayCredential.check(certificatePEM: pair.cert, keyPEM: text, now: Self.now) }
        #expect(throws: CAError.self) { try GatewayCredential.check(certificatePEM: pair.cert, keyPEM: pair.key, caPEM: text, now: Self.now) }
    }

    @Test func oversizedPartsAreRefusedBeforeParsing() throws {
        let pair = try Self.leaf()
        let huge = String(repeating: "A", count: 70_000)
        let error = #expect(throws: CAError.self) { try GatewayCredential.check(certificatePEM: huge, keyPEM: pair.key, now: Self.now) }
        #expect(error?.message == "the certificate is larger than 65536 bytes")
    }
}

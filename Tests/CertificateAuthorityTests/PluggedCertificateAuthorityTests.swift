import Crypto
import Foundation
import Testing
import X509

@testable import CertificateAuthority

@Suite("LocalCertificateAuthority.loadPlugged")
struct PluggedCertificateAuthorityTests {
    let reviews = SpiffeID(trustDomain: "cluster.local", namespace: "default", serviceAccount: "reviews")

    @Test("an operator's intermediate signs leaves that openssl verifies through it to the offline root")
    func pluggedCAIssuesThroughIntermediate() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pki = try TestPKI()
        try pki.writeCACerts(to: directory)
        let ca = try LocalCertificateAuthority.loadPlugged(directory: directory.url, trustDomain: "cluster.local")
        #expect(try Certificate(pemEncoded: ca.rootCertificatePEM) == pki.root)
        #expect(ca.rootExpiry == pki.root.notValidAfter)

        let chain = try ca.sign(csrPEM: CSRFactory.p256().pem, identity: reviews, ttl: .seconds(600))
        #expect(try chain.map { try Certificate(pemEncoded: $0) }.dropFirst() == [pki.intermediate, pki.root])
        try directory.write(chain[0], to: "leaf.pem")
        try directory.write(chain.dropFirst().joined(), to: "chain.pem")
        let verify = try OpenSSL.run(["verify", "-CAfile", "root-cert.pem", "-untrusted", "chain.pem", "leaf.pem"], in: directory)
        #expect(verify.status == 0, "\(verify.output)")
        #expect(await ca.identity(ofPeerChain: [try Certificate(pemEncoded: chain[0])]) == reviews)
    }

    @Test("a key that does not match ca-cert, or a ca-cert not under root-cert, is refused")
    func pluggedCAValidated() throws {
        let mismatched = try TemporaryDirectory()
        defer { mismatched.remove() }
        let pki = try TestPKI()
        try pki.writeCACerts(to: mismatched, key: P256.Signing.PrivateKey())
        let keyError = #expect(throws: CAError.self) {
            try LocalCertificateAuthority.loadPlugged(directory: mismatched.url, trustDomain: "cluster.local")
        }
        #expect(keyError?.message.contains("does not match") == true)

        let unrelated = try TemporaryDirectory()
        defer { unrelated.remove() }
        try pki.writeCACerts(to: unrelated)
        let otherRoot = try TestPKI(rootName: "Other Root")
        try unrelated.write(try otherRoot.root.serializeAsPEM().pemString, to: "root-cert.pem")
        try unrelated.write(try pki.intermediate.serializeAsPEM().pemString, to: "cert-chain.pem")
        let chainError = #expect(throws: CAError.self) {
            try LocalCertificateAuthority.loadPlugged(directory: unrelated.url, trustDomain: "cluster.local")
        }
        #expect(chainError?.message.contains("does not chain") == true)

        let notCA = try TemporaryDirectory()
        defer { notCA.remove() }
        try TestPKI(intermediateIsCA: false).writeCACerts(to: notCA)
        #expect(throws: CAError.self) {
            try LocalCertificateAuthority.loadPlugged(directory: notCA.url, trustDomain: "cluster.local")
        }
    }
}

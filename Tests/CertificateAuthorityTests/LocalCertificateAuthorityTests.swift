import Crypto
import Foundation
import Testing
import X509

@testable import CertificateAuthority

@Suite("LocalCertificateAuthority")
struct LocalCertificateAuthorityTests {
    let reviews = SpiffeID(trustDomain: "cluster.local", namespace: "default", serviceAccount: "reviews")

    @Test("first start creates and persists a root; a later start loads the same one")
    func rootPersistedAndReloaded() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let caDirectory = directory.url.appendingPathComponent("ca")
        let first = try LocalCertificateAuthority.loadOrCreate(directory: caDirectory, trustDomain: "cluster.local")
        let second = try LocalCertificateAuthority.loadOrCreate(directory: caDirectory, trustDomain: "cluster.local")
        #expect(first.rootCertificatePEM == second.rootCertificatePEM)
        #expect(first.rootExpiry == second.rootExpiry)
        #expect(first.rootExpiry > Date().addingTimeInterval(9 * 365 * 86_400))

        let attributes = { (name: String) throws -> Int in
            try FileManager.default.attributesOfItem(atPath: caDirectory.appendingPathComponent(name).path)[.posixPermissions] as! Int
        }
        #expect(try attributes("root-key.pem") == 0o600)
        #expect(try FileManager.default.attributesOfItem(atPath: caDirectory.path)[.posixPermissions] as! Int == 0o700)
        let root = try Certificate(pemEncoded: first.rootCertificatePEM)
        #expect(try root.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: nil))
        #expect(try root.extensions.keyUsage?.keyCertSign == true)
    }

    @Test("a half-present root (key without certificate) is refused, not replaced")
    func halfPresentRootRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        _ = try LocalCertificateAuthority.loadOrCreate(directory: directory.url, trustDomain: "cluster.local")
        try FileManager.default.removeItem(at: directory.file("root-cert.pem"))
        let error = #expect(throws: CAError.self) {
            try LocalCertificateAuthority.loadOrCreate(directory: directory.url, trustDomain: "cluster.local")
        }
        #expect(error?.code == .internalError)
    }

    @Test("the issued chain verifies with openssl and names the caller, not what the CSR asked for")
    func issuedChainVerifiesAndIgnoresCSRNames() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ca = try LocalCertificateAuthority.loadOrCreate(directory: directory.url.appendingPathComponent("ca"), trustDomain: "cluster.local")
        let csr = try CSRFactory.p256(requestedURI: "spiffe://cluster.local/ns/kube-system/sa/admin")
        let chain = try ca.sign(csrPEM: csr.pem, identity: reviews, ttl: .seconds(3600))
        #expect(chain.count == 2)
        #expect(chain.last == ca.rootCertificatePEM)
        try directory.write(ca.rootCertificatePEM, to: "root.pem")
        try directory.write(chain.joined(), to: "chain.pem")
        try directory.write(chain[0], to: "leaf.pem")

        let verify = try OpenSSL.run(
            ["verify", "-CAfile", "root.pem", "-untrusted", "chain.pem", "-purpose", "sslclient", "leaf.pem"], in: directory)
        #expect(verify.status == 0, "\(verify.output)")
        let text = try OpenSSL.run(["x509", "-in", "leaf.pem", "-noout", "-text"], in: directory).output
        #expect(text.contains("URI:spiffe://cluster.local/ns/default/sa/reviews"))
        #expect(!text.contains("admin"))
        #expect(text.contains("CA:FALSE"))
        #expect(text.contains("Digital Signature, Key Encipherment"))
        #expect(text.contains("X509v3 Subject Alternative Name: critical"))
        #expect(text.contains("TLS Web Server Authentication, TLS Web Client Authentication"))

        let leaf = try Certificate(pemEncoded: chain[0])
        #expect(leaf.publicKey == Certificate.PublicKey(csr.key.publicKey))
        #expect(leaf.subject == DistinguishedName())
        #expect(leaf.serialNumber.bytes.count >= 16)
        #expect(abs(leaf.notValidAfter.timeIntervalSince(leaf.notValidBefore) - 3660) < 2)
        #expect(try leaf.extensions.authorityKeyIdentifier != nil && leaf.extensions.subjectKeyIdentifier != nil)
    }

    @Test("a CSR with a flipped signature bit is refused as invalidArgument")
    func tamperedCSRRejected() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ca = try LocalCertificateAuthority.loadOrCreate(directory: directory.url, trustDomain: "cluster.local")
        let tampered = try CSRFactory.tampered(CSRFactory.p256().pem)
        let error = #expect(throws: CAError.self) { try ca.sign(csrPEM: tampered, identity: reviews, ttl: nil) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message == "CSR signature invalid")
        let garbage = #expect(throws: CAError.self) { try ca.sign(csrPEM: "not a csr", identity: reviews, ttl: nil) }
        #expect(garbage?.code == .invalidArgument)
    }

    @Test("RSA-2048 CSRs are accepted, RSA-1024 refused")
    func rsaKeySizes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ca = try LocalCertificateAuthority.loadOrCreate(directory: directory.url.appendingPathComponent("ca"), trustDomain: "cluster.local")
        let chain = try ca.sign(csrPEM: CSRFactory.rsa(bits: 2048, in: directory), identity: reviews, ttl: nil)
        let leaf = try Certificate(pemEncoded: chain[0])
        #expect("\(leaf.publicKey)" == "RSA2048.PublicKey")
        #expect(abs(leaf.notValidAfter.timeIntervalSinceNow - 86_400) < 5)  // the default TTL
        let error = #expect(throws: CAError.self) {
            try ca.sign(csrPEM: CSRFactory.rsa(bits: 1024, in: directory), identity: reviews, ttl: nil)
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("2048") == true, "\(String(describing: error))")
    }

    @Test("a TTL beyond the policy maximum is refused, not shortened")
    func ttlOverMaximumRejected() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ca = try LocalCertificateAuthority.loadOrCreate(directory: directory.url, trustDomain: "cluster.local")
        let error = #expect(throws: CAError.self) {
            try ca.sign(csrPEM: CSRFactory.p256().pem, identity: reviews, ttl: .seconds(91 * 86_400))
        }
        #expect(error?.code == .invalidArgument)
        _ = try ca.sign(csrPEM: CSRFactory.p256().pem, identity: reviews, ttl: .seconds(90 * 86_400))
    }

    @Test("identities outside the trust domain or with path tricks are refused")
    func foreignOrMalformedIdentityRejected() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ca = try LocalCertificateAuthority.loadOrCreate(directory: directory.url, trustDomain: "cluster.local")
        let csr = try CSRFactory.p256().pem
        let foreign = SpiffeID(trustDomain: "other.mesh", namespace: "default", serviceAccount: "reviews")
        #expect(throws: CAError.self) { try ca.sign(csrPEM: csr, identity: foreign, ttl: nil) }
        let sneaky = SpiffeID(trustDomain: "cluster.local", namespace: "default/sa/admin", serviceAccount: "x")
        let error = #expect(throws: CAError.self) { try ca.sign(csrPEM: csr, identity: sneaky, ttl: nil) }
        #expect(error?.code == .invalidArgument)
        #expect(SpiffeID(uri: "spiffe://cluster.local/ns/default/sa/reviews") == reviews)
        #expect(SpiffeID(uri: "spiffe://cluster.local/ns/default/sa/reviews/extra") == nil)
        #expect(SpiffeID(uri: "spiffe://cluster.local/ns/../sa/reviews") == nil)
    }

    @Test("a peer chain from this CA yields its identity; other CAs and serving certificates do not")
    func peerIdentity() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ca = try LocalCertificateAuthority.loadOrCreate(directory: directory.url.appendingPathComponent("a"), trustDomain: "cluster.local")
        let other = try LocalCertificateAuthority.loadOrCreate(directory: directory.url.appendingPathComponent("b"), trustDomain: "cluster.local")
        let ours = try ca.sign(csrPEM: CSRFactory.p256().pem, identity: reviews, ttl: nil).map { try Certificate(pemEncoded: $0) }
        let theirs = try other.sign(csrPEM: CSRFactory.p256().pem, identity: reviews, ttl: nil).map { try Certificate(pemEncoded: $0) }
        #expect(await ca.identity(ofPeerChain: ours) == reviews)
        #expect(await ca.identity(ofPeerChain: [ours[0]]) == reviews)
        #expect(await ca.identity(ofPeerChain: theirs) == nil)
        #expect(await ca.identity(ofPeerChain: ours, now: Date().addingTimeInterval(2 * 86_400)) == nil)  // expired

        let serving = try ca.issueServingCertificate(dnsNames: ["meshd.istio-system.svc"], ipAddresses: ["127.0.0.1", "::1"], ttl: .seconds(3600))
        #expect(await ca.identity(ofPeerChain: [try Certificate(pemEncoded: serving.chainPEM[0])]) == nil)
        try directory.write(ca.rootCertificatePEM, to: "root.pem")
        try directory.write(serving.chainPEM[0], to: "serving.pem")
        try directory.write(serving.privateKeyPEM, to: "serving.key")
        let verify = try OpenSSL.run(["verify", "-CAfile", "root.pem", "-purpose", "sslserver", "serving.pem"], in: directory)
        #expect(verify.status == 0, "\(verify.output)")
        let text = try OpenSSL.run(["x509", "-in", "serving.pem", "-noout", "-ext", "subjectAltName"], in: directory).output
        #expect(text.contains("DNS:meshd.istio-system.svc, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"))
        let keyMatches = try OpenSSL.run(["pkey", "-in", "serving.key", "-pubout"], in: directory).output
        #expect(keyMatches.contains("BEGIN PUBLIC KEY"))
    }
}

import Crypto
import Foundation
import SwiftASN1
import X509

/// A fresh directory under the system temp directory, removed by `remove()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("meshd-ca-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    func write(_ text: String, to name: String) throws {
        try text.write(to: file(name), atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Runs the openssl CLI, the independent judge of what the CA produces.
enum OpenSSL {
    struct Result {
        var status: Int32
        var output: String
    }

    static func run(_ arguments: [String], in directory: TemporaryDirectory) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.currentDirectoryURL = directory.url
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}

/// CSRs the way agents make them, plus deliberately hostile variants.
enum CSRFactory {
    /// A P-256 CSR whose subject and requested SAN claim `requestedURI` (which the CA must ignore).
    static func p256(requestedURI: String = "spiffe://cluster.local/ns/kube-system/sa/admin") throws -> (pem: String, key: P256.Signing.PrivateKey) {
        let key = P256.Signing.PrivateKey()
        let extensions = try Certificate.Extensions { SubjectAlternativeNames([.uniformResourceIdentifier(requestedURI)]) }
        let csr = try CertificateSigningRequest(
            version: .v1,
            subject: DistinguishedName { CommonName("admin") },
            privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes([.init(ExtensionRequest(extensions: extensions))]),
            signatureAlgorithm: .ecdsaWithSHA256)
        return (try csr.serializeAsPEM().pemString, key)
    }

    /// `pem` with one bit of the signature flipped: still parses, no longer verifies.
    static func tampered(_ pem: String) throws -> String {
        var der = try PEMDocument(pemString: pem).derBytes
        der[der.count - 1] ^= 0x01  // the signature BIT STRING is the last field of the CSR
        return PEMDocument(type: "CERTIFICATE REQUEST", derBytes: der).pemString
    }

    /// An RSA CSR of `bits` made by the openssl CLI.
    static func rsa(bits: Int, in directory: TemporaryDirectory) throws -> String {
        let result = try OpenSSL.run(
            [
                "req", "-new", "-newkey", "rsa:\(bits)", "-nodes", "-keyout", "rsa-\(bits).key",
                "-subj", "/CN=rsa", "-out", "rsa-\(bits).csr",
            ], in: directory)
        guard result.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: ["openssl": result.output]) }
        return try String(contentsOf: directory.file("rsa-\(bits).csr"), encoding: .utf8)
    }
}

/// A small CA built directly with swift-certificates, standing in for an operator's offline PKI.
struct TestPKI {
    let rootKey: P256.Signing.PrivateKey
    let root: Certificate
    let intermediateKey: P256.Signing.PrivateKey
    let intermediate: Certificate

    init(rootName: String = "Test Root", intermediateIsCA: Bool = true) throws {
        // Locals, not `self.`: the extension builders are closures and may not capture a half-built self.
        let rootKey = P256.Signing.PrivateKey()
        let intermediateKey = P256.Signing.PrivateKey()
        self.rootKey = rootKey
        self.intermediateKey = intermediateKey
        let now = Date()
        let rootDN = try DistinguishedName {
            OrganizationName("Example")
            CommonName(rootName)
        }
        root = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(rootKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(365 * 86_400),
            issuer: rootDN, subject: rootDN, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(rootKey.publicKey))
            },
            issuerPrivateKey: .init(rootKey))
        let intermediateDN = try DistinguishedName {
            OrganizationName("Example")
            CommonName("Cluster Intermediate")
        }
        intermediate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(intermediateKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(180 * 86_400),
            issuer: rootDN, subject: intermediateDN, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(intermediateIsCA ? BasicConstraints.isCertificateAuthority(maxPathLength: 0) : .notCertificateAuthority)
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(intermediateKey.publicKey))
                AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: Certificate.PublicKey(rootKey.publicKey)).keyIdentifier)
            },
            issuerPrivateKey: .init(rootKey))
    }

    /// Writes Istio's `cacerts` layout into `directory`.
    func writeCACerts(to directory: TemporaryDirectory, key: P256.Signing.PrivateKey? = nil) throws {
        let rootPEM = try root.serializeAsPEM().pemString + "\n"
        let intermediatePEM = try intermediate.serializeAsPEM().pemString + "\n"
        try directory.write(intermediatePEM, to: "ca-cert.pem")
        try directory.write((key ?? intermediateKey).pemRepresentation + "\n", to: "ca-key.pem")
        try directory.write(rootPEM, to: "root-cert.pem")
        try directory.write(intermediatePEM + rootPEM, to: "cert-chain.pem")
    }
}

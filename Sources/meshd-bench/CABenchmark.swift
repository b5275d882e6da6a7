import CertificateAuthority
import Crypto
import Foundation
import X509

/// Measures CreateCertificate's core on one core: parse a CSR, verify its signature, build and
/// sign a leaf (ECDSA P-256), encode the chain as PEM. The numbers go beside
/// `openssl speed ecdsap256` (one sign + one verify is the floor for this work).
enum CABenchmark {
    static func run(seconds: Double) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshd-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let ca = try LocalCertificateAuthority.loadOrCreate(directory: directory, trustDomain: "cluster.local")
        // Distinct CSRs, made up front so only the CA's work is timed.
        let csrs = try (0..<64).map { _ -> String in
            let key = P256.Signing.PrivateKey()
            let csr = try CertificateSigningRequest(
                version: .v1, subject: try DistinguishedName { CommonName("bench") },
                privateKey: Certificate.PrivateKey(key), attributes: CertificateSigningRequest.Attributes(),
                signatureAlgorithm: .ecdsaWithSHA256)
            return try csr.serializeAsPEM().pemString
        }
        let identity = SpiffeID(trustDomain: "cluster.local", namespace: "default", serviceAccount: "bench")
        let clock = ContinuousClock()
        let start = clock.now
        var issued = 0
        while (clock.now - start) < .milliseconds(Int64(seconds * 1000)) {
            _ = try ca.sign(csrPEM: csrs[issued % csrs.count], identity: identity, ttl: .seconds(3600))
            issued += 1
        }
        let elapsed = clock.now - start
        let rate = Double(issued) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        return String(
            format: "ca: %d CSRs verified and signed in %.2f s: %.0f per second (one core)", issued,
            Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, rate)
    }
}

import Crypto
import EnvoyAPI
import Foundation
import Logging
import Testing
import X509

@testable import mesh_agent

/// The gateway's `file-cert:`/`file-root:` secrets: read when first asked for, pushed again when
/// the files change, refused when they do not hold credentials.
@Suite struct FileSecretWatcherTests {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "file-secrets-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// A self-signed certificate for `name` and its key, PEM.
    static func pair(_ name: String) throws -> (cert: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(name) }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: Date().addingTimeInterval(-60), notValidAfter: Date().addingTimeInterval(86_400), issuer: subject,
            subject: subject, extensions: Certificate.Extensions(), issuerPrivateKey: .init(key))
        return (try certificate.serializeAsPEM().pemString, key.pemRepresentation)
    }

    func write(_ text: String, _ file: String) throws -> String {
        let path = directory + "/" + file
        // A new inode each time, as a Kubernetes secret volume's update swaps files.
        try? FileManager.default.removeItem(atPath: path)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A store holding a workload generation, so file secrets have something to ride on.
    static func store() throws -> SecretStore {
        let store = SecretStore()
        let workload = try pair("workload")
        store.publish(WorkloadSecrets(chainPEM: workload.cert, keyPEM: workload.key, rootPEM: workload.cert))
        return store
    }

    @Test func aCertificateAndItsRootAreServedAndRotationIsANewVersion() throws {
        let store = try Self.store()
        let watcher = FileSecretWatcher(store: store, logger: Logger(label: "test"))
        let first = try Self.pair("reviews.example.com")
        let cert = try write(first.cert, "tls.crt")
        let key = try write(first.key, "tls.key")
        let ca = try write(first.cert, "ca.crt")
        let certName = "file-cert:\(cert)~\(key)"
        let rootName = "file-root:\(ca)"
        watcher.watch([certName, rootName, "default", "kubernetes://elsewhere"])

        let served = try #require(store.current)
        let pairSecret = try #require(served.entries[certName]?.secret)
        #expect(pairSecret.tlsCertificate.certificateChain.inlineBytes == Data(first.cert.utf8))
        #expect(pairSecret.tlsCertificate.privateKey.inlineBytes == Data(first.key.utf8))
        #expect(served.entries[rootName]?.secret.validationContext.trustedCa.inlineBytes == Data(first.cert.utf8))
        #expect(served.entries["kubernetes://elsewhere"] == nil)
        #expect(served.entries["default"] != nil, "the workload's own secrets stay")

        watcher.refresh()
        #expect(store.current?.version == served.version, "unchanged files are not a new generation")

        let second = try Self.pair("reviews.example.com")
        _ = try write(second.cert, "tls.crt")
        _ = try write(second.key, "tls.key")
        watcher.refresh()
        let rotated = try #require(store.current)
        #expect(rotated.version != served.version)
        #expect(rotated.entries[certName]?.secret.tlsCertificate.privateKey.inlineBytes == Data(second.key.utf8))
        #expect(rotated.entries[certName]?.version != served.entries[certName]?.version)
        #expect(rotated.entries[rootName]?.version == served.entries[rootName]?.version)
    }

    @Test func filesThatAreNotCredentialsAreRefusedAndTheLastGoodContentStays() throws {
        let store = try Self.store()
        let watcher = FileSecretWatcher(store: store, logger: Logger(label: "test"))
        let good = try Self.pair("reviews.example.com")
        let cert = try write(good.cert, "tls.crt")
        let key = try write(good.key, "tls.key")
        let name = "file-cert:\(cert)~\(key)"
        let passwd = "file-cert:/etc/passwd~/etc/hostname"
        let missing = "file-root:\(directory)/absent.crt"
        watcher.watch([name, passwd, missing, "file-cert:only-one-path", "file-root:"])
        let served = try #require(store.current)
        #expect(served.entries[name] != nil)
        #expect(served.entries[passwd] == nil)
        #expect(served.entries[missing] == nil)

        _ = try write("not a key\n", "tls.key")
        watcher.refresh()
        #expect(store.current?.entries[name]?.version == served.entries[name]?.version, "a broken key keeps the last good pair")

        _ = try write(good.cert, "absent.crt")
        watcher.refresh()
        #expect(store.current?.entries[missing] != nil, "a file that appears later is served")
    }

    /// `openssl ecparam -genkey` writes an `EC PARAMETERS` block before the key; Envoy skips it.
    @Test func aKeyFileWithECParametersIsAccepted() throws {
        let store = try Self.store()
        let watcher = FileSecretWatcher(store: store, logger: Logger(label: "test"))
        let pair = try Self.pair("reviews.example.com")
        let cert = try write(pair.cert, "tls.crt")
        let key = try write("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + pair.key, "tls.key")
        let twoKeys = try write(pair.key + pair.key, "two.key")
        watcher.watch(["file-cert:\(cert)~\(key)", "file-cert:\(cert)~\(twoKeys)"])
        #expect(store.current?.entries["file-cert:\(cert)~\(key)"] != nil)
        #expect(store.current?.entries["file-cert:\(cert)~\(twoKeys)"] == nil)
    }

    @Test func namesParseAsIstioAgentWritesThem() {
        #expect(
            FileSecretWatcher.Request(name: "file-cert:/etc/certs/tls.crt~/etc/certs/tls.key")
                == .certificate(chain: "/etc/certs/tls.crt", key: "/etc/certs/tls.key"))
        #expect(FileSecretWatcher.Request(name: "file-root:/etc/certs/ca.crt") == .root("/etc/certs/ca.crt"))
        #expect(FileSecretWatcher.Request(name: "file-cert:/a~/b~/c") == nil)
        #expect(FileSecretWatcher.Request(name: "file-cert:/a~") == nil)
        #expect(FileSecretWatcher.Request(name: "ROOTCA") == nil)
    }
}

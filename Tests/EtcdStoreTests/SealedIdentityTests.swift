import EtcdAPI
import EtcdStore
import Foundation
import MeshTesting
import Testing

@Suite struct KeyEncryptionKeyTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshd-kek-\(UUID().uuidString)")

    func write(_ bytes: [UInt8], mode: Int) throws -> String {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("kek").path
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    @Test func aKeyFileOthersCanReadIsRefused() throws {
        let path = try write(Array(repeating: 7, count: 32), mode: 0o644)
        #expect(throws: KeyEncryptionKey.LoadError.self) { try KeyEncryptionKey.load(path: path) }
        do { _ = try KeyEncryptionKey.load(path: path) } catch { #expect(error.description.contains("chmod 600")) }
    }

    @Test func aKeyFileOfTheWrongSizeIsRefused() throws {
        let path = try write(Array(repeating: 7, count: 31), mode: 0o600)
        do {
            _ = try KeyEncryptionKey.load(path: path)
            Issue.record("a 31-byte key was accepted")
        } catch {
            #expect(error.description.contains("exactly 32 bytes, not 31"))
        }
    }

    @Test func sealedBytesOpenOnlyWithTheSameKeyAndContext() throws {
        let key = try KeyEncryptionKey.load(path: try write(Array(0..<32), mode: 0o600))
        let other = try KeyEncryptionKey(bytes: Array(repeating: 1, count: 32))
        let sealed = try key.seal(Array("secret".utf8), context: Array("/meshd/identity".utf8))
        #expect(!sealed.containsRun(Array("secret".utf8)))
        #expect(try key.open(sealed, context: Array("/meshd/identity".utf8)) == Array("secret".utf8))
        #expect(throws: (any Error).self) { try other.open(sealed, context: Array("/meshd/identity".utf8)) }
        #expect(throws: (any Error).self) { try key.open(sealed, context: Array("/other/identity".utf8)) }
    }
}

extension Array where Element == UInt8 {
    fileprivate func containsRun(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<($0 + needle.count)]) == needle }
    }
}

@Suite(.enabled(if: EtcdTestMember.binary != nil, "etcd binary not found (apt-get install etcd-server, or set ETCD_BIN)"))
struct SealedIdentityTests {
    static func secrets(_ tag: String) -> ClusterSecrets {
        ClusterSecrets(
            rootCertificatePEM: "cert-\(tag)", rootKeyPEM: "root-key-\(tag)", tokenSigningKeyPEM: "token-key-\(tag)",
            adminToken: "admin-\(tag)")
    }

    @Test func replicasStartingAtOnceAgreeOnOneIdentityAndAWrongKeyIsRefused() async throws {
        try await EtcdTestMember.with { member in
            try await EtcdClient.withClient(endpoints: [member.endpoint], tls: nil) { client in
                let keyspace = EtcdKeyspace(prefix: "/id-\(UUID().uuidString)/")
                let kek = try KeyEncryptionKey(bytes: Array(repeating: 9, count: 32))
                async let first = SealedIdentity.loadOrCreate(client: client, keyspace: keyspace, kek: kek) { Self.secrets("a") }
                async let second = SealedIdentity.loadOrCreate(client: client, keyspace: keyspace, kek: kek) { Self.secrets("b") }
                let (a, b) = try await (first, second)
                #expect(a.secrets == b.secrets)
                #expect([a.created, b.created].filter { $0 }.count == 1)

                // Nothing secret is in etcd in the clear.
                var request = EtcdAPI.Etcdserverpb_RangeRequest()
                request.key = keyspace.identity
                let stored = try await client.range(request, what: "test").kvs[0].value
                for secret in [a.secrets.rootKeyPEM, a.secrets.tokenSigningKeyPEM, a.secrets.adminToken] {
                    #expect(!Array(stored).containsRun(Array(secret.utf8)))
                }

                let later = try await SealedIdentity.loadOrCreate(client: client, keyspace: keyspace, kek: kek) { Self.secrets("c") }
                #expect(later.secrets == a.secrets && !later.created)

                let wrong = try KeyEncryptionKey(bytes: Array(repeating: 8, count: 32))
                do {
                    _ = try await SealedIdentity.loadOrCreate(client: client, keyspace: keyspace, kek: wrong) { Self.secrets("d") }
                    Issue.record("a wrong key-encryption key opened the identity")
                } catch let refusal as SealedIdentity.Refusal {
                    #expect(refusal.description.contains("--kek-file does not open"))
                }
            }
        }
    }
}

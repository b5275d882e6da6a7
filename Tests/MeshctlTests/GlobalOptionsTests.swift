import Foundation
import Testing

@testable import meshctl

/// Where meshctl sends the admin token it finds in meshd's data directory: to loopback only.
@Suite struct GlobalOptionsTests {
    @Test(arguments: ["localhost", "LOCALHOST", "127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "[::1]", "0:0:0:0:0:0:0:1"])
    func loopbackFormsAreLocal(_ host: String) {
        #expect(GlobalOptions.isLoopbackHost(host))
    }

    @Test(arguments: [
        "127.0.0.1.evil.example", "127.example", "127.1", "127.0.0.1.", "localhost.evil.example",
        "evil-localhost", "128.0.0.1", "10.0.0.1", "::2", "::ffff:10.0.0.1", "meshd.mesh-system.svc", "",
    ])
    func everythingElseIsNot(_ host: String) {
        #expect(!GlobalOptions.isLoopbackHost(host))
    }

    @Test func theDataDirectoryTokenGoesOnlyToLoopbackServers() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "secret-admin-token\n".write(to: directory.appendingPathComponent("admin-token"), atomically: true, encoding: .utf8)

        func token(_ arguments: [String]) throws -> String? {
            try GlobalOptions.parse(["--data-dir", directory.path] + arguments).resolvedToken
        }
        // MESHCTL_TOKEN in the test's own environment would change every answer.
        try #require(ProcessInfo.processInfo.environment["MESHCTL_TOKEN"] == nil)
        #expect(try token(["--server", "http://127.0.0.1:15014"]) == "secret-admin-token")
        #expect(try token(["--server", "http://[::1]:15014"]) == "secret-admin-token")
        #expect(try token(["--server", "localhost:15014"]) == "secret-admin-token")
        #expect(try token(["--server", "http://127.0.0.1.evil.example:15014"]) == nil)
        #expect(try token(["--server", "http://meshd.example:15014"]) == nil)
        // An explicit token is the operator's choice and goes wherever --server points.
        #expect(try token(["--server", "http://127.0.0.1.evil.example:15014", "--token", "given"]) == "given")
    }
}

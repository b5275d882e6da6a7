import EtcdAPI
import EtcdStore
import Foundation
import Logging
import Storage
import Synchronization

/// A single-member etcd on loopback ports in a temporary directory, for tests; the binary is
/// Debian's `etcd-server` (`/usr/bin/etcd`, or `$ETCD_BIN`).
public final class EtcdTestMember: Sendable {
    public let clientPort: Int
    public let peerPort: Int
    public let directory: URL
    let extraArguments: [String]
    /// The running etcd (its pid), behind a lock so the member is Sendable without exceptions.
    private let process = Mutex<Process?>(nil)

    /// The etcd binary, or nil when it is not installed (the tests that need it are skipped).
    public static let binary: String? = {
        let candidates = [ProcessInfo.processInfo.environment["ETCD_BIN"], "/usr/bin/etcd", "/usr/local/bin/etcd"]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// Why etcd tests are skipped, when they are.
    public static let skipReason = "etcd binary not found (apt-get install etcd-server, or set ETCD_BIN): etcd store tests skipped"

    /// Where members keep their data: tmpfs (`/dev/shm`) when the machine has it. etcd fsyncs
    /// every write; on a disk still flushing a fresh build's gigabytes, one fsync can wait many
    /// seconds, which made every etcd call time out at once. The tests are about meshd, not the
    /// disk. `$MESHD_ETCD_TEST_DIR` overrides.
    static var dataRoot: URL {
        let environment = ProcessInfo.processInfo.environment["MESHD_ETCD_TEST_DIR"]
        for candidate in [environment, "/dev/shm"].compactMap({ $0 })
        where FileManager.default.isWritableFile(atPath: candidate) {
            return URL(fileURLWithPath: candidate)
        }
        return FileManager.default.temporaryDirectory
    }

    public var endpoint: EtcdEndpoint { EtcdEndpoint(host: "127.0.0.1", port: clientPort) }

    private init(extraArguments: [String]) throws {
        clientPort = try Self.freePort()
        peerPort = try Self.freePort()
        directory = Self.dataRoot.appendingPathComponent("meshd-etcd-\(UUID().uuidString)")
        self.extraArguments = extraArguments
    }

    /// Runs `body` with a started member, stopping it and removing its data afterwards.
    public static func with<T>(_ extraArguments: [String] = [], _ body: (EtcdTestMember) async throws -> T) async throws -> T {
        let member = try EtcdTestMember(extraArguments: extraArguments)
        defer {
            member.stop()
            try? FileManager.default.removeItem(at: member.directory)
        }
        try await member.start()
        return try await body(member)
    }

    /// Starts etcd and waits (bounded) until it answers.
    public func start() async throws {
        guard let binary = Self.binary else { throw EtcdTestError(Self.skipReason) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        let client = "http://127.0.0.1:\(clientPort)"
        let peer = "http://127.0.0.1:\(peerPort)"
        process.arguments =
            [
                "--name", "m0", "--data-dir", directory.path,
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "m0=\(peer)", "--initial-cluster-state", "new",
                "--log-level", "error", "--logger", "zap",
            ] + extraArguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process.withLock { $0 = process }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            var probe = EtcdAPI.Etcdserverpb_RangeRequest()
            probe.key = Data("ready".utf8)
            let request = probe
            if (try? await EtcdClient.withClient(
                endpoints: [endpoint], tls: nil, callTimeout: .seconds(1),
                { client in
                    _ = try await client.range(request, what: "ready probe")
                })) != nil
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw EtcdTestError("etcd on port \(clientPort) did not answer within 30 s")
    }

    /// Stops etcd (SIGKILL: tests model a crash) and waits for it to exit.
    public func stop() {
        guard
            let running = process.withLock({ current -> Process? in
                defer { current = nil }
                return current
            }), running.isRunning
        else { return }
        kill(running.processIdentifier, SIGKILL)
        running.waitUntilExit()
    }

    /// Runs `etcdctl` against this member (for maintenance etcd's API subset here lacks: compact).
    public func etcdctl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/etcdctl")
        process.arguments = ["--endpoints", "127.0.0.1:\(clientPort)"] + arguments
        process.environment = ["ETCDCTL_API": "3"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw EtcdTestError("etcdctl \(arguments) failed") }
    }

    /// A port free on loopback now (bound, read, released).
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw EtcdTestError("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw EtcdTestError("bind failed") }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw EtcdTestError("getsockname failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

public struct EtcdTestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs `body` with an etcd config store on a fresh member (its watch running), and the client.
public func withEtcdStore<T: Sendable>(
    member: EtcdTestMember, prefix: String = "/test-\(UUID().uuidString)/",
    _ body: (EtcdConfigStore, EtcdClient) async throws -> T
) async throws -> T {
    try await EtcdClient.withClient(endpoints: [member.endpoint], tls: nil, callTimeout: .seconds(3)) { client in
        let store = try await EtcdConfigStore(client: client, keyspace: EtcdKeyspace(prefix: prefix), logger: Logger(label: "test"))
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask { try await store.run() }
            defer { group.cancelAll() }
            return try await body(store, client)
        }
    }
}

import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The Unix socket the SDS server listens on: whoever can open it gets the workload's private
/// key, so it is created owner-only (0600) and never left world-accessible, even for a moment.
struct SDSListener: Sendable {
    /// The socket's path.
    let path: String

    /// Removes a socket left by an earlier run (a crash leaves the file, and bind would fail on
    /// it); anything else at the path is refused rather than deleted.
    func removeStale() throws {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            guard errno == ENOENT else { throw failure("cannot inspect --sds-socket \(path)") }
            let parent = (path as NSString).deletingLastPathComponent
            if !parent.isEmpty && !FileManager.default.fileExists(atPath: parent) {
                throw AgentError(.configuration, "--sds-socket \(path): directory \(parent) does not exist")
            }
            return
        }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw AgentError(.configuration, "--sds-socket \(path) exists and is not a socket; not removing it")
        }
        guard unlink(path) == 0 else { throw failure("cannot remove the stale socket \(path)") }
    }

    /// Serves `service` on the socket until the task is cancelled; `ready` runs once the socket
    /// is bound and restricted to the owner. The umask is tightened while binding so the socket
    /// is born 0600 (chmod afterwards alone would leave a window); the caller binds before
    /// starting anything else that creates files, since the umask is per process.
    func serve(_ service: SecretDiscoveryServer, logger: Logger, ready: @escaping @Sendable () -> Void) async throws {
        try removeStale()
        let server = GRPCServer(
            transport: .http2NIOPosix(address: .unixDomainSocket(path: path), transportSecurity: .plaintext),
            services: [service])
        let previous = umask(0o177)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                defer { _ = unlink(path) }
                try await server.serve()
            }
            let bound: Bool
            do {
                bound = try await server.listeningAddress != nil
            } catch {
                umask(previous)
                throw AgentError(.configuration, "cannot listen on --sds-socket \(path): \(error)", cause: error)
            }
            umask(previous)
            guard bound, chmod(path, 0o600) == 0 else {
                server.beginGracefulShutdown()
                throw failure("cannot restrict --sds-socket \(path) to its owner")
            }
            logger.info("SDS listening", metadata: ["socket": "\(path)", "secrets": "\(WorkloadSecrets.names.joined(separator: ","))"])
            ready()
            // The group now waits for the serve task, which a shutdown signal cancels.
        }
    }

    private func failure(_ what: String) -> AgentError {
        let code = errno
        return AgentError(.configuration, "\(what): \(String(cString: strerror(code)))")
    }
}

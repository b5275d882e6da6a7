import EtcdAPI
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Storage
import Synchronization

/// A connection to an etcd cluster over its v3 gRPC API, with failover across members.
///
/// One gRPC client per endpoint; calls go to the member that last answered and, when it is
/// unreachable (or answers that it has no leader), to the next one, until each has been tried
/// once. Only then does a call fail, with `StorageError.unavailable`. Thread-safe.
public final class EtcdClient: Sendable {
    /// The members, in the order given.
    public let endpoints: [EtcdEndpoint]
    let clients: [GRPCClient<HTTP2ClientTransport.Posix>]
    /// The index of the member that answered last: calls start there.
    private let preferred = Atomic<Int>(0)
    /// How long one call to one member may take before the next member is tried.
    public let callTimeout: Duration

    /// Messages up to this size are sent and accepted: etcd's own `--max-request-bytes` is the
    /// limit that matters (a larger request is refused by etcd and reported as `tooLarge`).
    static let maxMessageBytes = 256 << 20

    private init(endpoints: [EtcdEndpoint], clients: [GRPCClient<HTTP2ClientTransport.Posix>], callTimeout: Duration) {
        self.endpoints = endpoints
        self.clients = clients
        self.callTimeout = callTimeout
    }

    /// Runs `body` with a client connected to `endpoints` (plaintext, or TLS with `tls`); the
    /// connections are closed when `body` returns.
    public static func withClient<T: Sendable>(
        endpoints: [EtcdEndpoint], tls: EtcdTLS?, callTimeout: Duration = .seconds(5),
        _ body: (EtcdClient) async throws -> T
    ) async throws -> T {
        var clients: [GRPCClient<HTTP2ClientTransport.Posix>] = []
        for endpoint in endpoints {
            let transport = try HTTP2ClientTransport.Posix(
                target: target(endpoint), transportSecurity: security(tls), config: transportConfig)
            clients.append(GRPCClient(transport: transport))
        }
        let client = EtcdClient(endpoints: endpoints, clients: clients, callTimeout: callTimeout)
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            for grpc in clients {
                group.addTask { _ = try? await grpc.runConnections() }
            }
            defer { for grpc in clients { grpc.beginGracefulShutdown() } }
            return try await body(client)
        }
    }

    /// Reconnects quickly (a member back after an outage is used within about two seconds,
    /// not gRPC's default two minutes) and notices a silent member by keepalive.
    private static var transportConfig: HTTP2ClientTransport.Posix.Config {
        var config = HTTP2ClientTransport.Posix.Config.defaults
        config.backoff = .init(initial: .milliseconds(100), max: .seconds(2), multiplier: 1.6, jitter: 0.2)
        config.connection.keepalive = .init(time: .seconds(10), timeout: .seconds(5), allowWithoutCalls: true)
        return config
    }

    private static func target(_ endpoint: EtcdEndpoint) -> any ResolvableTarget {
        if endpoint.host.contains(":") {
            return ResolvableTargets.IPv6(addresses: [SocketAddress.IPv6(host: endpoint.host, port: endpoint.port)])
        }
        if endpoint.host.split(separator: ".").count == 4, endpoint.host.allSatisfy({ $0.isNumber || $0 == "." }) {
            return ResolvableTargets.IPv4(addresses: [SocketAddress.IPv4(host: endpoint.host, port: endpoint.port)])
        }
        return ResolvableTargets.DNS(host: endpoint.host, port: endpoint.port)
    }

    private static func security(_ tls: EtcdTLS?) -> HTTP2ClientTransport.Posix.TransportSecurity {
        guard let tls else { return .plaintext }
        return .tls(
            .defaults { config in
                config.trustRoots = .certificates([.file(path: tls.caFile, format: .pem)])
                config.serverCertificateVerification = .fullVerification
                if let certificate = tls.certificateFile, let key = tls.keyFile {
                    config.certificateChain = [.file(path: certificate, format: .pem)]
                    config.privateKey = .file(path: key, format: .pem)
                }
            })
    }

    /// Call options for one attempt: bounded in time, failing fast on a member that is down.
    func options(timeout: Duration? = nil) -> CallOptions {
        var options = CallOptions.defaults
        options.timeout = timeout ?? callTimeout
        options.waitForReady = false
        options.maxRequestMessageBytes = Self.maxMessageBytes
        options.maxResponseMessageBytes = Self.maxMessageBytes
        return options
    }

    /// Runs `body` against one member after another, starting with the one that answered last,
    /// until one succeeds or fails for a reason other than availability. `what` names the
    /// operation in errors.
    public func call<T: Sendable>(
        _ what: String, _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> T
    ) async throws(StorageError) -> T {
        let start = preferred.load(ordering: .relaxed)
        var last: (any Error)?
        // Whether some member may have received the request without answering: a write it
        // proposed before losing quorum could still commit once quorum returns.
        var unanswered = false
        for offset in 0..<clients.count {
            let index = (start + offset) % clients.count
            do {
                let result = try await body(clients[index])
                if offset > 0 { preferred.store(index, ordering: .relaxed) }
                return result
            } catch {
                let mapped = EtcdErrors.storageError(error, what: what, endpoint: endpoints[index])
                guard mapped.code == .unavailable else { throw mapped }
                if let rpc = error as? RPCError, rpc.code == .deadlineExceeded || rpc.message.contains("timed out") {
                    unanswered = true
                }
                last = error
            }
        }
        throw StorageError(
            code: .unavailable,
            message: "etcd is unreachable or has no quorum (\(what); tried \(endpoints.map(\.description).joined(separator: ", "))); "
                + (unanswered
                    ? "nothing was changed now; a member that timed out may still commit it once quorum returns, so read before retrying"
                    : "nothing was changed"),
            cause: last)
    }

    /// The member index calls start at; the watch moves it on after a broken stream.
    func rotatePreferred() {
        preferred.store((preferred.load(ordering: .relaxed) + 1) % clients.count, ordering: .relaxed)
    }

    /// The gRPC client of the member calls currently start at, and its endpoint.
    var current: (client: GRPCClient<HTTP2ClientTransport.Posix>, endpoint: EtcdEndpoint) {
        let index = preferred.load(ordering: .relaxed) % clients.count
        return (clients[index], endpoints[index])
    }
}

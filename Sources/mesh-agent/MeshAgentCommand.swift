import ArgumentParser
import Foundation
import Logging
import MeshCommon
import SwiftASN1
import X509

/// `mesh-agent`: the node agent that keeps a workload's certificate, key and root fresh in a
/// directory, for gRPC's `file_watcher` certificate provider (or anything else that reads files).
///
/// Wiring only: flags are turned into a `CertificateRenewer`, which does the work. A thrown
/// error is printed by ArgumentParser as `Error: <description>` with exit status 1; for a failed
/// call that reads `Error: <gRPC status>: <message>`.
@main
struct MeshAgentCommand: AsyncParsableCommand {
    /// mesh-agent's own version.
    static let version = "0.1.0"
    /// The environment variable read when neither `--token` nor `--token-file` is given.
    static let tokenEnvironmentVariable = "MESH_AGENT_TOKEN"
    /// Where Istio's injector mounts the pod's projected service-account token (audience
    /// `istio-ca`): read when no token is given, so an injected pod needs no flag for it.
    static let projectedTokenPath = "/var/run/secrets/tokens/istio-token"

    static let configuration = CommandConfiguration(
        commandName: "mesh-agent",
        abstract: "Keep a workload certificate from meshd's CA fresh in a directory.",
        discussion: """
            Writes cert-chain.pem, key.pem (0600) and root-cert.pem into --output-dir, swapped \
            atomically (Kubernetes' ..data symlink layout), and renews at half the lifetime. \
            Authenticates with a token from 'meshctl token create' and, when renewing, with the \
            certificate it already holds.
            """,
        version: version)

    @Option(help: ArgumentHelp("meshd's CA (TLS) address.", valueName: "host:port"))
    var caAddress: CAAddress = .default

    @Option(
        help: ArgumentHelp(
            "meshd's mTLS renewal address, used when renewing with a still-valid certificate (default: the --ca-address host, port 15013).",
            valueName: "host:port"))
    var renewAddress: CAAddress?

    @Option(help: ArgumentHelp("PEM trust anchor meshd's TLS certificate must chain to.", valueName: "file"))
    var rootCert: String

    @Option(help: ArgumentHelp("Name meshd's TLS certificate is verified against.", valueName: "name"))
    var serverName = "localhost"

    @Option(
        help: ArgumentHelp(
            "Bearer token (default: $\(MeshAgentCommand.tokenEnvironmentVariable), else the projected token at \(MeshAgentCommand.projectedTokenPath) if there is one).",
            valueName: "token"))
    var token: String?

    @Option(help: ArgumentHelp("File holding the bearer token, re-read before each issuance.", valueName: "file"))
    var tokenFile: String?

    @Option(help: ArgumentHelp("Directory the certificate, key and root are written to.", valueName: "dir"))
    var outputDir: String

    @Option(help: ArgumentHelp("Requested certificate lifetime, e.g. 24h, 1h30m, 90s.", valueName: "duration"))
    var ttl = ValidityDuration(seconds: 86_400)

    @Option(
        help: ArgumentHelp(
            "Also serve the certificate to Envoy over SDS (secrets 'default' and 'ROOTCA') on this Unix socket, owner-only.",
            valueName: "path"))
    var sdsSocket: String?

    @Flag(help: "Issue one certificate, write it and exit (non-zero on failure).")
    var once = false

    @Option(help: "Private key type: ec (P-256) or rsa (2048 bits).")
    var keyType: KeyType = .ec

    @Option(help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel = "info"

    func validate() throws {
        if token != nil && tokenFile != nil {
            throw ValidationError("--token and --token-file cannot be used together")
        }
        if token?.isEmpty == true { throw ValidationError("--token must not be empty") }
        if serverName.isEmpty { throw ValidationError("--server-name must not be empty") }
        if outputDir.isEmpty { throw ValidationError("--output-dir must not be empty") }
        if let sdsSocket {
            if sdsSocket.isEmpty { throw ValidationError("--sds-socket must not be empty") }
            if once { throw ValidationError("--sds-socket serves until stopped; it cannot be used with --once") }
            // sockaddr_un.sun_path holds 108 bytes on Linux (104 on macOS), NUL included.
            if sdsSocket.utf8.count > 103 { throw ValidationError("--sds-socket path is longer than a Unix socket path may be (103 bytes)") }
        }
        if Logger.Level(rawValue: logLevel.lowercased()) == nil {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel.lowercased()) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "mesh-agent")

        let rootPEM = try Self.loadTrustRoot(rootCert)
        let secrets = SecretStore()
        var renewer = CertificateRenewer(
            signer: GRPCCertificateSigner(
                address: caAddress, renewAddress: renewAddress ?? CAAddress(host: caAddress.host, port: MeshDefaults.mutualTLSPort),
                serverName: serverName, trustRootPEM: rootPEM),
            writer: AtomicDirectoryWriter(directory: outputDir),
            tokenSource: resolvedTokenSource,
            keyType: keyType,
            validity: ttl,
            fallbackRootPEM: rootPEM,
            logger: logger)
        renewer.onIssued = { secrets.publish(WorkloadSecrets(certificate: $0)) }
        let existing = IssuedCertificate(loadingFrom: outputDir)

        if once {
            try await renewer.issue(current: existing)
            return
        }
        if resolvedTokenSource == .none && existing?.isValid(at: Date()) != true {
            throw AgentError(
                .configuration,
                """
                no token: give --token, --token-file or \(Self.tokenEnvironmentVariable), or mount a projected token at \
                \(Self.projectedTokenPath) \
                (only a still-valid certificate in \(outputDir) can renew without one)
                """)
        }
        logger.info(
            "starting",
            metadata: [
                "caAddress": "\(caAddress)", "serverName": "\(serverName)", "dir": "\(outputDir)",
                "ttl": "\(ttl)", "keyType": "\(keyType.rawValue)",
            ])
        if let existing, existing.isValid(at: Date()) {
            secrets.publish(WorkloadSecrets(certificate: existing))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            if let sdsSocket {
                let files = FileSecretWatcher(store: secrets, logger: logger)
                try await Self.startSDS(SDSListener(path: sdsSocket), store: secrets, files: files, logger: logger, in: &group)
                group.addTask { await files.run() }
            }
            group.addTask { [renewer] in try await renewer.run(initial: existing) }
            group.addTask {
                if let signal = await ShutdownSignal.next() {
                    logger.info("received \(signal), exiting")
                }
            }
            // Whichever finishes first (a signal, or the loop with an error) ends the other.
            defer { group.cancelAll() }
            _ = try await group.next()
        }
    }

    /// Starts the SDS server in `group` and returns once its socket is bound and owner-only, so
    /// the renewal loop (which writes files) starts after the umask is restored; a socket that
    /// cannot be bound fails the agent at start.
    static func startSDS(
        _ listener: SDSListener, store: SecretStore, files: FileSecretWatcher? = nil, logger: Logger,
        in group: inout ThrowingTaskGroup<Void, any Error>
    ) async throws {
        let (ready, signalReady) = AsyncStream.makeStream(of: Void.self)
        group.addTask {
            defer { signalReady.finish() }
            try await listener.serve(SecretDiscoveryServer(store: store, files: files, logger: logger), logger: logger) {
                signalReady.yield()
            }
        }
        var bound = false
        for await _ in ready {
            bound = true
            break
        }
        if !bound {
            // The server task ended before binding: surface its error.
            try await group.next()
            throw AgentError(.configuration, "the SDS server on \(listener.path) stopped before listening")
        }
    }

    /// `--token`, else `--token-file`, else `$MESH_AGENT_TOKEN` (empty means unset).
    var resolvedTokenSource: TokenSource {
        if let token { return .literal(token) }
        if let tokenFile { return .file(tokenFile) }
        if let value = ProcessInfo.processInfo.environment[Self.tokenEnvironmentVariable], !value.isEmpty {
            return .literal(value.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        if FileManager.default.isReadableFile(atPath: Self.projectedTokenPath) { return .file(Self.projectedTokenPath) }
        return .none
    }

    /// Reads `--root-cert` and checks it holds at least one certificate, so a wrong path fails
    /// at start with a clear message rather than as a TLS handshake error on every attempt.
    static func loadTrustRoot(_ path: String) throws -> String {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw AgentError(.configuration, "--root-cert \(path): cannot read file: \(error.localizedDescription)", cause: error)
        }
        do {
            let documents = try PEMDocument.parseMultiple(pemString: text)
            guard !documents.isEmpty else { throw AgentError(.configuration, "--root-cert \(path): no PEM certificate in file") }
            for document in documents { _ = try Certificate(pemDocument: document) }
        } catch let error as AgentError {
            throw error
        } catch {
            throw AgentError(.configuration, "--root-cert \(path): not a PEM certificate", cause: error)
        }
        return text
    }
}

import AsyncAlgorithms
import EnvoyAPI
import GRPCCore
import Logging
import Synchronization
import XDSCore

/// envoy.service.secret.v3.SecretDiscoveryService: the workload's certificate and trust bundle
/// for the Envoy beside the agent, served on a Unix socket only it can open (see `SDSListener`).
///
/// Each stream runs one protocol machine (`SecretStreamMachine` or `DeltaSecretStreamMachine`)
/// fed by Envoy's requests and by every generation the renewal loop publishes.
struct SecretDiscoveryServer: Envoy_Service_Secret_V3_SecretDiscoveryService.SimpleServiceProtocol {
    let store: SecretStore
    /// Reads the `file-cert:`/`file-root:` secrets streams ask for (nil: none are served).
    let files: FileSecretWatcher?
    let logger: Logger
    private let streams = StreamCounter(prefix: "sds")

    init(store: SecretStore, files: FileSecretWatcher? = nil, logger: Logger) {
        self.store = store
        self.files = files
        self.logger = logger
    }

    private enum Input<Request: Sendable>: Sendable {
        case request(Request)
        case secrets(WorkloadSecrets)
        case requestsEnded
    }

    func streamSecrets(
        request: RPCAsyncSequence<Envoy_Service_Discovery_V3_DiscoveryRequest, any Error>,
        response: RPCWriter<Envoy_Service_Discovery_V3_DiscoveryResponse>,
        context: ServerContext
    ) async throws {
        var machine = SecretStreamMachine(streamID: streams.next())
        try await serve(
            request, protocolName: "sotw", names: \.resourceNames,
            receive: { try machine.receive($0) }, update: { machine.update($0) },
            write: { event in
                if case .send(let message) = event { try await response.write(message) }
            })
    }

    func deltaSecrets(
        request: RPCAsyncSequence<Envoy_Service_Discovery_V3_DeltaDiscoveryRequest, any Error>,
        response: RPCWriter<Envoy_Service_Discovery_V3_DeltaDiscoveryResponse>,
        context: ServerContext
    ) async throws {
        var machine = DeltaSecretStreamMachine(streamID: streams.next())
        try await serve(
            request, protocolName: "delta", names: \.resourceNamesSubscribe,
            receive: { try machine.receive($0) }, update: { machine.update($0) },
            write: { event in
                if case .sendDelta(let message) = event { try await response.write(message) }
            })
    }

    /// Runs one stream until Envoy closes it: requests and new generations, in arrival order,
    /// through the machine; its events written or logged.
    private func serve<Request: Sendable>(
        _ requests: RPCAsyncSequence<Request, any Error>, protocolName: String, names: (Request) -> [String],
        receive: (Request) throws -> [SecretStreamEvent],
        update: (WorkloadSecrets) -> [SecretStreamEvent],
        write: (SecretStreamEvent) async throws -> Void
    ) async throws {
        var logger = self.logger
        logger[metadataKey: "sds"] = "\(protocolName)"
        logger.debug("SDS stream opened")
        defer { logger.debug("SDS stream closed") }
        let inputs = merge(
            chain(requests.map { Input.request($0) }, [Input<Request>.requestsEnded].async),
            store.changes().map { Input<Request>.secrets($0) })
        for try await input in inputs {
            let events: [SecretStreamEvent]
            switch input {
            case .requestsEnded:
                return
            case .request(let message):
                // File secrets asked for the first time are read now, and the machine takes the
                // generation holding them before the request, so its answer carries them.
                var loaded: [SecretStreamEvent] = []
                let requested = names(message)
                if let files, !requested.isEmpty {
                    let before = store.sequence
                    files.watch(requested.prefix(SecretStreamError.maxNames))
                    if store.sequence != before, let current = store.current { loaded = update(current) }
                }
                do {
                    events = try loaded + receive(message)
                } catch let error as SecretStreamError {
                    throw RPCError(code: .invalidArgument, message: error.message)
                }
            case .secrets(let secrets):
                events = update(secrets)
            }
            for event in events {
                try await perform(event, write: write, logger: logger)
            }
        }
    }

    private func perform(
        _ event: SecretStreamEvent, write: (SecretStreamEvent) async throws -> Void,
        logger: Logger
    ) async throws {
        switch event {
        case .send(let message):
            try await write(event)
            logger.info("SDS pushed", metadata: ["version": "\(message.versionInfo)", "resources": "\(message.resources.count)"])
        case .sendDelta(let message):
            try await write(event)
            logger.info(
                "SDS pushed",
                metadata: [
                    "version": "\(message.systemVersionInfo)",
                    "resources": "\(message.resources.map(\.name).joined(separator: ","))",
                    "removed": "\(message.removedResources.joined(separator: ","))",
                ])
        case .acked(let version):
            logger.debug("SDS ACK", metadata: ["version": "\(version)"])
        case .rejected(let version, let message):
            // Envoy keeps the secret it had; the next rotation is the next attempt.
            logger.warning("Envoy rejected the secrets", metadata: ["version": "\(version)", "error": "\(message)"])
        case .ignoredStale(let nonce):
            logger.debug("SDS stale nonce ignored", metadata: ["nonce": "\(nonce)"])
        case .unknownNames(let names):
            logger.warning(
                "Envoy asked for secrets this agent does not serve",
                metadata: [
                    "names": "\(names.joined(separator: ","))",
                    "served": "\((WorkloadSecrets.names + ["file-cert:CERT~KEY", "file-root:CA"]).joined(separator: ","))",
                ])
        }
    }
}

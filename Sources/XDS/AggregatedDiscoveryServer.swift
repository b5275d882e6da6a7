import EnvoyAPI
import Foundation
import GRPCCore
import Logging
import ServiceLifecycle
import Synchronization
import Translator

/// ADS over gRPC (state of the world): one `StreamStateMachine` per stream, fed by the proxy's
/// requests and by every PushContext the publisher hands out.
///
/// Each stream runs two producers (requests, pushes) into one ordered input queue and one
/// consumer that drives the machine and writes its responses, so a stream's sends never
/// interleave. Delta xDS is not served yet: it answers UNIMPLEMENTED.
public struct AggregatedDiscoveryServer: Envoy_Service_Discovery_V3_AggregatedDiscoveryService.SimpleServiceProtocol {
    private let publisher: PushContextPublisher
    private let cache: SnapshotCache
    private let statuses: ProxyStatusRegistry
    private let metrics: XDSMetrics?
    private let logger: Logger
    private let streamCounter = StreamCounter()

    public init(publisher: PushContextPublisher, cache: SnapshotCache, statuses: ProxyStatusRegistry,
                metrics: XDSMetrics?, logger: Logger) {
        self.publisher = publisher
        self.cache = cache
        self.statuses = statuses
        self.metrics = metrics
        self.logger = logger
    }

    private enum Input: Sendable {
        case request(Envoy_Service_Discovery_V3_DiscoveryRequest)
        case push(PushContext)
    }

    public func streamAggregatedResources(
        request: RPCAsyncSequence<Envoy_Service_Discovery_V3_DiscoveryRequest, any Error>,
        response: RPCWriter<Envoy_Service_Discovery_V3_DiscoveryResponse>,
        context: ServerContext
    ) async throws {
        let connectionID = streamCounter.next()
        let connectedAt = Date()
        var logger = self.logger
        logger[metadataKey: "connection"] = "\(connectionID)"
        metrics?.connections.increment()
        defer {
            metrics?.connections.decrement()
            statuses.remove(connectionID: connectionID)
        }
        // On meshd's graceful shutdown the stream ends (the proxy reconnects elsewhere) instead
        // of holding shutdown open forever: ADS streams never finish on their own.
        let streamLogger = logger
        let nodeID = try await cancelWhenGracefulShutdown {
            try await serve(request: request, response: response, connectionID: connectionID,
                            connectedAt: connectedAt, logger: streamLogger)
        }
        logger.info("xDS stream closed", metadata: ["proxy": "\(nodeID ?? "")"])
    }

    /// Runs one stream until the proxy closes it or the task is cancelled; returns the node id.
    private func serve(
        request: RPCAsyncSequence<Envoy_Service_Discovery_V3_DiscoveryRequest, any Error>,
        response: RPCWriter<Envoy_Service_Discovery_V3_DiscoveryResponse>,
        connectionID: String, connectedAt: Date, logger: Logger
    ) async throws -> String? {
        let proxy = Proxy(id: connectionID)
        var machine = StreamStateMachine(streamID: connectionID)
        var pendingSince: ContinuousClock.Instant?

        let (inputs, continuation) = AsyncStream<Input>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { continuation.finish() }
                for try await message in request { continuation.yield(.request(message)) }
            }
            group.addTask {
                for await push in publisher.subscribe() { continuation.yield(.push(push)) }
            }
            for await input in inputs {
                let started = ContinuousClock.now
                let events: [StreamStateMachine.Event]
                switch input {
                case .request(let message):
                    events = machine.receive(Self.info(message))
                case .push(let push):
                    events = machine.push(cache.snapshot(for: proxy, push: push))
                    if !events.isEmpty { pendingSince = started }
                }
                for event in events {
                    try await perform(event, response: response, logger: logger, proxyID: machine.nodeID ?? connectionID)
                }
                if case .push = input, !events.isEmpty { metrics?.pushTime.record(started.duration(to: .now)) }
                statuses.update(connectionID: connectionID, connectedAt: connectedAt, machine: machine)
                if let since = pendingSince, machine.subscribedTypes.allSatisfy({ machine.status(of: $0).status == .synced }) {
                    metrics?.convergence.record(since.duration(to: .now))
                    pendingSince = nil
                }
            }
            group.cancelAll()
        }
        return machine.nodeID
    }

    public func deltaAggregatedResources(
        request: RPCAsyncSequence<Envoy_Service_Discovery_V3_DeltaDiscoveryRequest, any Error>,
        response: RPCWriter<Envoy_Service_Discovery_V3_DeltaDiscoveryResponse>,
        context: ServerContext
    ) async throws {
        throw RPCError(code: .unimplemented, message: "meshd serves state-of-the-world ADS only; Delta xDS is not implemented yet")
    }

    private func perform(_ event: StreamStateMachine.Event, response: RPCWriter<Envoy_Service_Discovery_V3_DiscoveryResponse>,
                         logger: Logger, proxyID: String) async throws {
        switch event {
        case .send(let info):
            var message = Envoy_Service_Discovery_V3_DiscoveryResponse()
            message.typeURL = info.typeURL
            message.versionInfo = info.versionInfo
            message.nonce = info.nonce
            message.resources = info.resources.map(\.payload)
            try await response.write(message)
            metrics?.pushed(info.typeURL)
            logger.debug("sent", metadata: ["proxy": "\(proxyID)", "type": "\(TypeURL.shortName(info.typeURL))",
                                            "version": "\(info.versionInfo)", "nonce": "\(info.nonce)", "resources": "\(info.resources.count)"])
        case .acked(let typeURL, let version):
            logger.debug("ACK", metadata: ["proxy": "\(proxyID)", "type": "\(TypeURL.shortName(typeURL))", "version": "\(version)"])
        case .nacked(let typeURL, let version, let error):
            metrics?.rejected(typeURL)
            logger.warning("NACK", metadata: ["proxy": "\(proxyID)", "type": "\(TypeURL.shortName(typeURL))",
                                              "version": "\(version)", "error": "\(error)"])
        case .ignoredStale(let typeURL, let nonce):
            logger.trace("stale nonce ignored", metadata: ["proxy": "\(proxyID)", "type": "\(TypeURL.shortName(typeURL))", "nonce": "\(nonce)"])
        }
    }

    static func info(_ message: Envoy_Service_Discovery_V3_DiscoveryRequest) -> DiscoveryRequestInfo {
        DiscoveryRequestInfo(
            typeURL: message.typeURL, versionInfo: message.versionInfo, resourceNames: message.resourceNames,
            responseNonce: message.responseNonce,
            errorDetail: message.hasErrorDetail ? (message.errorDetail.message.isEmpty ? "code \(message.errorDetail.code)" : message.errorDetail.message) : nil,
            nodeID: message.hasNode ? message.node.id : nil)
    }
}

/// Stream ids unique within one meshd process; they prefix nonces.
final class StreamCounter: Sendable {
    private let value = Atomic<Int>(0)
    private let epoch = String(UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970)), radix: 36)

    func next() -> String { "\(epoch)-\(value.add(1, ordering: .relaxed).newValue)" }
}

import AsyncAlgorithms
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
/// Each stream merges its requests with a publish signal into one consumer that drives the
/// machine and writes its responses, so a stream's sends never interleave. Both inputs are
/// bounded: requests are pulled one at a time (a proxy that floods requests while meshd waits to
/// write is held back by HTTP/2 flow control), and a publish is a latest-only signal — the
/// consumer reads the publisher's current context when it gets to it, so a proxy that stops
/// reading holds at most one pending push and never pins old contexts. Stream count and request
/// size are bounded by `ADSLimits`. At most `PushThrottle.limit` streams work out a push at once;
/// writes happen outside that bound. The types served and their order come from an
/// `XDSTypeRegistry`. Delta xDS is not served yet: it answers UNIMPLEMENTED.
public struct AggregatedDiscoveryServer: Envoy_Service_Discovery_V3_AggregatedDiscoveryService.SimpleServiceProtocol {
    private let publisher: PushContextPublisher
    private let cache: SnapshotCache
    private let statuses: ProxyStatusRegistry
    private let metrics: XDSMetrics?
    private let logger: Logger
    private let limits: ADSLimits
    /// The xDS types served, in push order.
    private let types: XDSTypeRegistry
    /// Bounds how many streams work out a push at once.
    private let throttle: PushThrottle
    private let streamCounter = StreamCounter()
    private let openStreams = OpenStreamCount()

    public init(publisher: PushContextPublisher, cache: SnapshotCache, statuses: ProxyStatusRegistry,
                metrics: XDSMetrics?, logger: Logger, limits: ADSLimits = ADSLimits(), types: XDSTypeRegistry = .standard,
                throttle: PushThrottle = PushThrottle(limit: PushThrottle.defaultLimit(cores: ProcessInfo.processInfo.activeProcessorCount))) {
        self.types = types
        self.throttle = throttle
        self.publisher = publisher
        self.cache = cache
        self.statuses = statuses
        self.metrics = metrics
        self.logger = logger
        self.limits = limits
    }

    private enum Input: Sendable {
        case request(Envoy_Service_Discovery_V3_DiscoveryRequest)
        case published
        case requestsEnded
    }

    public func streamAggregatedResources(
        request: RPCAsyncSequence<Envoy_Service_Discovery_V3_DiscoveryRequest, any Error>,
        response: RPCWriter<Envoy_Service_Discovery_V3_DiscoveryResponse>,
        context: ServerContext
    ) async throws {
        guard openStreams.enter(limit: limits.maxStreams) else {
            metrics?.refusedStreams.increment()
            throw RPCError(code: .resourceExhausted,
                           message: "meshd already serves \(limits.maxStreams) xDS streams (--xds-max-streams); try another replica or later")
        }
        defer { openStreams.leave() }
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
        var machine = StreamStateMachine(streamID: connectionID, registry: types)
        var pendingSince: ContinuousClock.Instant?

        // The stream ends when the proxy stops sending: the marker after its last request says so.
        let requests = chain(request.map { Input.request($0) }, [Input.requestsEnded].async)
        let inputs = merge(requests, publisher.changes().map { _ in Input.published })
        for try await input in inputs {
            let started = ContinuousClock.now
            let events: [StreamStateMachine.Event]
            switch input {
            case .requestsEnded:
                return machine.nodeID
            case .request(let message):
                guard message.resourceNames.count <= limits.maxResourceNamesPerRequest else {
                    throw RPCError(code: .resourceExhausted,
                                   message: "a DiscoveryRequest may name at most \(limits.maxResourceNamesPerRequest) resources (--xds-max-resource-names); this one names \(message.resourceNames.count)")
                }
                events = machine.receive(Self.info(message))
            case .published:
                events = await throttle.withPermit {
                    guard let push = publisher.current else { return [] }
                    return machine.push(cache.snapshot(for: proxy, push: push))
                }
                if !events.isEmpty { pendingSince = started }
            }
            for event in events {
                try await perform(event, response: response, logger: logger, proxyID: machine.nodeID ?? connectionID)
            }
            if case .published = input, !events.isEmpty { metrics?.pushTime.record(started.duration(to: .now)) }
            statuses.update(connectionID: connectionID, connectedAt: connectedAt, machine: machine)
            if let since = pendingSince, machine.subscribedTypes.allSatisfy({ machine.status(of: $0).status == .synced }) {
                metrics?.convergence.record(since.duration(to: .now))
                pendingSince = nil
            }
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
            logger.debug("sent", metadata: ["proxy": "\(proxyID)", "type": "\(types.shortName(info.typeURL))",
                                            "version": "\(info.versionInfo)", "nonce": "\(info.nonce)", "resources": "\(info.resources.count)"])
        case .acked(let typeURL, let version):
            logger.debug("ACK", metadata: ["proxy": "\(proxyID)", "type": "\(types.shortName(typeURL))", "version": "\(version)"])
        case .nacked(let typeURL, let version, let error):
            metrics?.rejected(typeURL)
            logger.warning("NACK", metadata: ["proxy": "\(proxyID)", "type": "\(types.shortName(typeURL))",
                                              "version": "\(version)", "error": "\(error)"])
        case .unknownType(let typeURL):
            metrics?.unknownTypeRequests.increment()
            logger.debug("request for a type meshd does not serve; answered empty",
                         metadata: ["proxy": "\(proxyID)", "type": "\(typeURL.prefix(200))"])
        case .ignoredStale(let typeURL, let nonce):
            logger.trace("stale nonce ignored", metadata: ["proxy": "\(proxyID)", "type": "\(types.shortName(typeURL))", "nonce": "\(nonce)"])
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

/// The number of open ADS streams, checked against the limit on entry.
final class OpenStreamCount: Sendable {
    private let value = Atomic<Int>(0)

    /// Counts a new stream unless `limit` are already open; returns whether it was counted.
    func enter(limit: Int) -> Bool {
        while true {
            let current = value.load(ordering: .relaxed)
            guard current < limit else { return false }
            if value.compareExchange(expected: current, desired: current + 1, ordering: .relaxed).exchanged { return true }
        }
    }

    /// Uncounts a stream that `enter` counted.
    func leave() {
        value.subtract(1, ordering: .relaxed)
    }
}

/// Stream ids unique within one meshd process; they prefix nonces.
final class StreamCounter: Sendable {
    private let value = Atomic<Int>(0)
    private let epoch = String(UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970)), radix: 36)

    func next() -> String { "\(epoch)-\(value.add(1, ordering: .relaxed).newValue)" }
}

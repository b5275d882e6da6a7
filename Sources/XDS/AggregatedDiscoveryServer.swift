import AsyncAlgorithms
import EnvoyAPI
import Foundation
import GRPCCore
import Logging
import PushPipeline
import ServiceLifecycle
import Synchronization
import Translator
import XDSCore

/// ADS over gRPC, state of the world and Delta: one protocol machine per stream
/// (`StreamStateMachine` or `DeltaStreamStateMachine`), fed by the proxy's requests and by
/// every PushContext the publisher hands out.
///
/// Both protocols share one stream loop (`serve`): it merges the requests with a publish signal
/// into one consumer that drives the machine and writes its responses, so a stream's sends never
/// interleave. Both inputs are bounded: requests are pulled one at a time (a proxy that floods
/// requests while meshd waits to write is held back by HTTP/2 flow control), and a publish is a
/// latest-only signal — the consumer reads the publisher's current context when it gets to it,
/// so a proxy that stops reading holds at most one pending push and never pins old contexts.
/// Stream count and request size are bounded by `ADSLimits`; Delta's accumulated subscriptions
/// by the same per-request name bound. At most `PushThrottle.limit` streams work out a push at
/// once; writes happen outside that bound. The types served and their order come from an
/// `XDSTypeRegistry`.
public struct AggregatedDiscoveryServer: Envoy_Service_Discovery_V3_AggregatedDiscoveryService.SimpleServiceProtocol {
    let publisher: PushContextPublisher
    let cache: SnapshotCache
    let statuses: ProxyStatusRegistry
    let metrics: XDSMetrics?
    let logger: Logger
    let limits: ADSLimits
    /// The xDS types served, in push order.
    let types: XDSTypeRegistry
    /// Bounds how many streams work out a push at once.
    let throttle: PushThrottle
    /// On a port that requires mesh certificates: the caller's verified identity (nil when it
    /// has none). Nil on ports where proxies are not authenticated.
    let peerIdentity: (@Sendable (ServerContext) async -> AuthenticatedPeer?)?
    private let streamCounter = StreamCounter.process
    private let openStreams = OpenStreamCount()

    public init(
        publisher: PushContextPublisher, cache: SnapshotCache, statuses: ProxyStatusRegistry,
        metrics: XDSMetrics?, logger: Logger, limits: ADSLimits = ADSLimits(), types: XDSTypeRegistry = .standard,
        throttle: PushThrottle = PushThrottle(limit: PushThrottle.defaultLimit(cores: ProcessInfo.processInfo.activeProcessorCount)),
        peerIdentity: (@Sendable (ServerContext) async -> AuthenticatedPeer?)? = nil
    ) {
        self.peerIdentity = peerIdentity
        self.types = types
        self.throttle = throttle
        self.publisher = publisher
        self.cache = cache
        self.statuses = statuses
        self.metrics = metrics
        self.logger = logger
        self.limits = limits
    }

    private enum Input<Message: Sendable>: Sendable {
        case request(Message)
        case published
        case requestsEnded
    }

    public func streamAggregatedResources(
        request: RPCAsyncSequence<Envoy_Service_Discovery_V3_DiscoveryRequest, any Error>,
        response: RPCWriter<Envoy_Service_Discovery_V3_DiscoveryResponse>,
        context: ServerContext
    ) async throws {
        let limits = self.limits
        let peer = try await authenticatedPeer(context)
        try await admit { connectionID, connectedAt, logger in
            try await serve(
                StreamStateMachine(streamID: connectionID, registry: types), requests: request, connectionID: connectionID,
                connectedAt: connectedAt, logger: logger, peer: peer,
                node: { $0.hasNode ? $0.node : nil },
                decode: { message in
                    try limits.checkNames(message.resourceNames.count)
                    return Self.info(message)
                },
                write: { try await response.write(Self.message($0)) })
        }
    }

    /// The proxy a stream serves, from its first request's node and the authenticated peer (the
    /// one place both protocols build it); a refused node ends the stream with its status.
    static func makeProxy(node: Envoy_Config_Core_V3_Node?, connectionID: String, peer: AuthenticatedPeer?) throws -> Proxy {
        do {
            return try ProxyIdentity.proxy(node: node, connectionID: connectionID, peer: peer)
        } catch {
            throw RPCError(code: error.code == .permissionDenied ? .permissionDenied : .invalidArgument, message: error.message)
        }
    }

    /// What a proxy of a kind meshd does not serve is told (its stream ends with UNIMPLEMENTED).
    static func notServedMessage(_ proxy: Proxy) -> String {
        "this meshd does not serve \(proxy.kind.displayName) (node \"\(proxy.id.prefix(120))\" is a \(proxy.kind.rawValue)): "
            + "its generator table has no generators for the kind"
    }

    /// The peer a stream's caller authenticated as, when this server requires mesh certificates;
    /// nil on the plaintext and server-TLS ports. A caller that should have one and has none is
    /// refused with UNAUTHENTICATED.
    func authenticatedPeer(_ context: ServerContext) async throws -> AuthenticatedPeer? {
        guard let peerIdentity else { return nil }
        guard let peer = await peerIdentity(context) else {
            throw RPCError(code: .unauthenticated, message: "this port serves xDS to callers presenting a mesh certificate; none was verified")
        }
        return peer
    }

    /// Runs a stream's body under the stream limit, with its connection id, logger, metrics and
    /// status entry, ending it on meshd's graceful shutdown; `body` returns the node id.
    func admit(_ body: @escaping @Sendable (_ connectionID: String, _ connectedAt: Date, _ logger: Logger) async throws -> String?) async throws {
        guard openStreams.enter(limit: limits.maxStreams) else {
            metrics?.refusedStreams.increment()
            throw RPCError(
                code: .resourceExhausted,
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
            try await body(connectionID, connectedAt, streamLogger)
        }
        logger.info("xDS stream closed", metadata: ["proxy": "\(nodeID ?? "")"])
    }

    /// Runs one stream until the proxy closes it or the task is cancelled; returns the node id.
    /// `decode` turns a request into the machine's terms (throwing to end the stream when it
    /// breaks a limit); `write` sends one response.
    func serve<Machine: ADSStreamMachine, Message: Sendable>(
        _ initial: Machine, requests request: RPCAsyncSequence<Message, any Error>,
        connectionID: String, connectedAt: Date, logger: Logger,
        peer: AuthenticatedPeer?,
        node: (Message) -> Envoy_Config_Core_V3_Node?,
        decode: (Message) throws -> Machine.Request,
        write: (DiscoveryResponseInfo) async throws -> Void
    ) async throws -> String? {
        // Known from the first request (its node); pushes wait for it, as the view depends on it.
        var proxy: Proxy?
        var machine = initial
        var pendingSince: ContinuousClock.Instant?
        // Credential names this stream asked for that were already checked (and logged if refused).
        var checkedCredentials: Set<String> = []

        // The stream ends when the proxy stops sending: the marker after its last request says so.
        let requests = chain(request.map { Input.request($0) }, [Input<Message>.requestsEnded].async)
        let inputs = merge(requests, publisher.changes().map { _ in Input<Message>.published })
        for try await input in inputs {
            let started = ContinuousClock.now
            let events: [XDSEvent]
            switch input {
            case .requestsEnded:
                return machine.nodeID
            case .request(let message):
                let request = try decode(message)
                var first: [XDSEvent] = []
                var next = proxy
                if next == nil {
                    let identified = try Self.makeProxy(node: node(message), connectionID: connectionID, peer: peer)
                    guard cache.serves(identified.kind) else {
                        logger.warning(
                            "proxy refused: meshd does not serve its kind yet",
                            metadata: [
                                "proxy": "\(identified.id)", "kind": "\(identified.kind.rawValue)",
                            ])
                        throw RPCError(code: .unimplemented, message: Self.notServedMessage(identified))
                    }
                    next = identified
                    logger.info(
                        "proxy identified",
                        metadata: [
                            "proxy": "\(identified.id)", "kind": "\(identified.kind.rawValue)", "namespace": "\(identified.namespace)",
                            "identity": "\(identified.identity ?? "none")",
                        ])
                }
                // A gRPC server's inbound listener names are part of its view: a request that
                // changes them moves the proxy to its new view before the request is answered.
                next?.inbound = InboundAddress.parse(listenerNames: machine.names(of: TypeURL.listener, after: request))
                if let next, next != proxy {
                    proxy = next
                    // Its snapshot before the request is answered.
                    first = await throttle.withPermit {
                        guard let push = publisher.current else { return [] }
                        return machine.push(await cache.snapshot(for: next, push: push))
                    }
                }
                if let proxy {
                    let asked = machine.names(of: TypeURL.secret, after: request).subtracting(checkedCredentials)
                    checkedCredentials.formUnion(asked)
                    Self.logCredentialRequests(asked, proxy: proxy, snapshot: machine.snapshot, logger: logger)
                }
                events = first + machine.receive(request)
                // Delta subscriptions accumulate across requests: bound the total too.
                try limits.checkNames(machine.largestSubscription, subscribed: true)
            case .published:
                guard let proxy else { continue }
                events = await throttle.withPermit {
                    guard let push = publisher.current else { return [] }
                    return machine.push(await cache.snapshot(for: proxy, push: push))
                }
                if !events.isEmpty { pendingSince = started }
            }
            for event in events {
                try await perform(event, write: write, logger: logger, proxyID: machine.nodeID ?? connectionID)
            }
            if case .published = input, !events.isEmpty { metrics?.pushTime.record(started.duration(to: .now)) }
            statuses.update(connectionID: connectionID, connectedAt: connectedAt, machine: machine, proxy: proxy)
            if let since = pendingSince, machine.synced {
                metrics?.convergence.record(since.duration(to: .now))
                pendingSince = nil
            }
        }
        return machine.nodeID
    }

    /// Logs each credential (`kubernetes://NAME`) a proxy asks for that its snapshot does not
    /// hold: refused when its view may not read credentials (only gateways authenticated on the
    /// mTLS port may, for their own namespace), else not found in its namespace. Names the proxy
    /// and what it asked for, never anything of the credential.
    static func logCredentialRequests(_ names: Set<String>, proxy: Proxy, snapshot: ProxySnapshot?, logger: Logger) {
        guard let snapshot else { return }
        let served = snapshot.of(TypeURL.secret)
        for name in names.filter({ $0.hasPrefix("kubernetes://") && served[$0] == nil }).sorted() {
            let metadata: Logger.Metadata = [
                "proxy": "\(proxy.id)", "kind": "\(proxy.kind.rawValue)", "namespace": "\(proxy.namespace)",
                "identity": "\(proxy.identity ?? "none (not authenticated by a mesh certificate)")", "credential": "\(name.prefix(300))",
            ]
            if snapshot.view?.key.readsCredentials == true {
                logger.warning("credential not found in the proxy's namespace", metadata: metadata)
            } else {
                logger.warning(
                    "credential refused: only gateways authenticated by their mesh certificate read credentials, from their own namespace",
                    metadata: metadata)
            }
        }
    }

    private func perform(
        _ event: XDSEvent, write: (DiscoveryResponseInfo) async throws -> Void,
        logger: Logger, proxyID: String
    ) async throws {
        switch event {
        case .send(let info):
            try await write(info)
            metrics?.pushed(info.typeURL)
            logger.debug(
                "sent",
                metadata: [
                    "proxy": "\(proxyID)", "type": "\(types.shortName(info.typeURL))",
                    "version": "\(info.versionInfo)", "nonce": "\(info.nonce)",
                    "resources": "\(info.resources.count)", "removed": "\(info.removedResources.count)",
                ])
        case .acked(let typeURL, let version):
            logger.debug("ACK", metadata: ["proxy": "\(proxyID)", "type": "\(types.shortName(typeURL))", "version": "\(version)"])
        case .nacked(let typeURL, let version, let error):
            metrics?.rejected(typeURL)
            logger.warning(
                "NACK",
                metadata: [
                    "proxy": "\(proxyID)", "type": "\(types.shortName(typeURL))",
                    "version": "\(version)", "error": "\(error)",
                ])
        case .unknownType(let typeURL):
            metrics?.unknownTypeRequests.increment()
            logger.debug(
                "request for a type meshd does not serve; answered empty",
                metadata: ["proxy": "\(proxyID)", "type": "\(typeURL.prefix(200))"])
        case .ignoredStale(let typeURL, let nonce):
            logger.trace("stale nonce ignored", metadata: ["proxy": "\(proxyID)", "type": "\(types.shortName(typeURL))", "nonce": "\(nonce)"])
        }
    }

    static func info(_ message: Envoy_Service_Discovery_V3_DiscoveryRequest) -> DiscoveryRequestInfo {
        DiscoveryRequestInfo(
            typeURL: message.typeURL, versionInfo: message.versionInfo, resourceNames: message.resourceNames,
            responseNonce: message.responseNonce,
            errorDetail: message.hasErrorDetail ? errorText(message.errorDetail) : nil,
            nodeID: message.hasNode ? message.node.id : nil)
    }

    static func message(_ info: DiscoveryResponseInfo) -> Envoy_Service_Discovery_V3_DiscoveryResponse {
        var message = Envoy_Service_Discovery_V3_DiscoveryResponse()
        message.typeURL = info.typeURL
        message.versionInfo = info.versionInfo
        message.nonce = info.nonce
        message.resources = info.resources.map(\.payload)
        return message
    }

    /// A NACK's `error_detail` as logged and shown: its message, else its code.
    static func errorText(_ status: Google_Rpc_Status) -> String {
        status.message.isEmpty ? "code \(status.code)" : status.message
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

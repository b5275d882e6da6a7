import Hummingbird
import MeshModel
import PushPipeline
import ServiceLifecycle
import Storage
import XDSCore

/// The dashboard's data: `GET /api/v1/overview` (services, subsets, weights, workloads,
/// proxies) and `GET /api/v1/events` (a `text/event-stream` saying when to read it again).
struct OverviewController: Sendable {
    let dependencies: AdminDependencies
    /// Bounds the open event streams (503 beyond).
    let limiter: EventStreamLimiter
    /// The producers' timing (keep-alive, coalescing); tests shorten it.
    let feedTiming: (keepAlive: Duration, proxiesInterval: Duration, peerPoll: Duration)

    /// The default bound on open event streams: a few dashboards per operator, far below what
    /// would strain meshd (each stream is one idle task and socket).
    static let defaultMaxEventStreams = 64

    init(
        dependencies: AdminDependencies, maxEventStreams: Int = defaultMaxEventStreams,
        feedTiming: (keepAlive: Duration, proxiesInterval: Duration, peerPoll: Duration) = (.seconds(15), .milliseconds(500), .seconds(5))
    ) {
        self.dependencies = dependencies
        self.limiter = EventStreamLimiter(limit: maxEventStreams)
        self.feedTiming = feedTiming
    }

    func register(on router: Router<AdminRequestContext>) {
        let publisher = dependencies.publisher
        let statuses = dependencies.statuses
        let peers = dependencies.peers

        router.get("/api/v1/overview") { _, _ -> Response in
            var proxies = SynczEntries.local(statuses)
            if let peers {
                proxies = proxies.map { SynczEntries.tagged($0, replicaID: peers.replicaID) } + (await peers.peerEntries())
            }
            return JSONResponse.make(MeshOverview.make(push: publisher.current, proxies: proxies))
        }

        let limiter = limiter
        var feed = MeshEventFeed(store: dependencies.store, statuses: statuses, peers: peers)
        (feed.keepAlive, feed.proxiesInterval, feed.peerPoll) = feedTiming
        router.get("/api/v1/events") { [feed] request, context -> Response in
            guard let lease = limiter.acquire() else {
                throw AdminError(
                    code: "unavailable", status: .serviceUnavailable,
                    message: "\(limiter.limit) event streams are open, the most meshd serves at once; close a dashboard and retry")
            }
            let current = try? await feed.store.currentRevision()
            // Without a socket (Hummingbird's in-process test client) there is no inbound side
            // to watch; a gone client is then noticed by the next write (a keep-alive at most).
            let watchesInbound = context.remoteAddress != nil
            let body = ResponseBody { writer in
                defer { lease.release() }
                try await Self.stream(feed: feed, current: current, inbound: watchesInbound ? request : nil, writer: &writer)
                try await writer.finish(nil)
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store",
                    // Tells reverse proxies (nginx) not to buffer the stream.
                    .init("X-Accel-Buffering")!: "no",
                ], body: body)
        }
    }

    /// Writes the stream until the client goes away (seen on `inbound`, the request whose
    /// connection to watch, or at the next failed write), meshd shuts down, or the task is cancelled.
    static func stream(
        feed: MeshEventFeed, current: Int64?, inbound: Request?,
        writer: inout any ResponseBodyWriter
    ) async throws {
        let (events, sink) = AsyncStream<ServerSentEvent>.makeStream(bufferingPolicy: .bufferingNewest(16))
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                feed.start(in: &group, sink: sink)
                var first = ServerSentEvent.preamble
                if let current { first += ServerSentEvent.revision(current).text }
                try await writer.write(ByteBuffer(string: first))
                if let inbound {
                    try await inbound.body.consumeWithInboundCloseHandler(
                        { _ in
                            for await event in events { try await writer.write(event.buffer) }
                        }, onInboundClosed: { sink.finish() })
                } else {
                    for await event in events { try await writer.write(event.buffer) }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            sink.finish()
        }
    }
}

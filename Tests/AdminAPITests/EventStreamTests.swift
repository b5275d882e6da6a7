import Foundation
import HTTPTypes
import Hummingbird
import MeshModel
import MeshTesting
import PushPipeline
import Synchronization
import Testing
import XDS
import XDSCore

@testable import AdminAPI

/// `/api/v1/events`' writer loop without a socket: what it writes for store changes, proxy
/// changes and idle time, that it coalesces, and that it ends when cancelled; and the bound on
/// open streams.
@Suite struct EventStreamTests {
    /// A response writer that hands every frame to the test.
    struct CollectingWriter: ResponseBodyWriter {
        let sink: AsyncStream<String>.Continuation
        mutating func write(_ buffer: ByteBuffer) async throws { sink.yield(String(buffer: buffer)) }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws { sink.finish() }
    }

    /// Reads frames until `predicate` holds for the text so far, or fails after `seconds`.
    static func read(
        _ frames: inout AsyncStream<String>.Iterator, until predicate: (String) -> Bool,
        seconds: Double = 10
    ) async -> String {
        var text = ""
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !predicate(text), ContinuousClock.now < deadline {
            guard let frame = await frames.next() else { break }
            text += frame
        }
        return text
    }

    func run(feed: MeshEventFeed, current: Int64?) -> (Task<Void, any Error>, AsyncStream<String>) {
        let (frames, sink) = AsyncStream<String>.makeStream()
        let task = Task {
            var writer: any ResponseBodyWriter = CollectingWriter(sink: sink)
            try await OverviewController.stream(feed: feed, current: current, inbound: nil, writer: &writer)
            try await writer.finish(nil)
        }
        return (task, frames)
    }

    @Test func revisionsProxiesAndKeepAlivesAreWrittenAndCancellationEndsTheStream() async throws {
        let store = InMemoryConfigStore()
        let statuses = ProxyStatusRegistry()
        var feed = MeshEventFeed(store: store, statuses: statuses, peers: nil)
        feed.keepAlive = .milliseconds(200)
        feed.proxiesInterval = .milliseconds(50)
        let (task, frames) = run(feed: feed, current: 0)
        var iterator = frames.makeAsyncIterator()

        let opening = await Self.read(&iterator, until: { $0.contains("event: revision") })
        #expect(opening.hasPrefix("retry: 3000\n\n"))
        #expect(opening.contains("event: revision\ndata: {\"revision\":0}\n\n"))
        // The producers subscribe as the stream starts; wait for the proxies watcher to exist.
        let deadline = ContinuousClock.now + .seconds(10)
        while statuses.watcherCount == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }

        let outcome = try await store.apply(CanaryFixture.resources(CanaryFixture.destinationRule(subsets: ["v1"])))
        let revision = await Self.read(&iterator, until: { $0.contains("data: {\"revision\":\(outcome.revision)}") })
        #expect(revision.contains("event: revision\ndata: {\"revision\":\(outcome.revision)}\n\n"))

        statuses.update(connectionID: "c1", connectedAt: .now, machine: StreamStateMachine(streamID: "c1"))
        let proxies = await Self.read(&iterator, until: { $0.contains("event: proxies") })
        #expect(proxies.contains("event: proxies\ndata: {}\n\n"))

        let idle = await Self.read(&iterator, until: { $0.contains(": keep-alive\n\n") })
        #expect(idle.contains(": keep-alive\n\n"))

        task.cancel()
        let rest = await Self.read(&iterator, until: { _ in false })
        #expect(!rest.contains("event: revision"), "nothing after cancellation but the end")
        try await task.value
        #expect(statuses.watcherCount == 0, "the proxies watcher ends with the stream")
    }

    @Test func anUnchangedProxyStateSendsNoEvent() async throws {
        let statuses = ProxyStatusRegistry()
        let machine = StreamStateMachine(streamID: "c1")
        statuses.update(connectionID: "c1", connectedAt: Date(timeIntervalSince1970: 0), machine: machine)
        var feed = MeshEventFeed(store: InMemoryConfigStore(), statuses: statuses, peers: nil)
        feed.keepAlive = .milliseconds(300)
        feed.proxiesInterval = .milliseconds(10)
        let (task, frames) = run(feed: feed, current: nil)
        var iterator = frames.makeAsyncIterator()
        _ = await Self.read(&iterator, until: { $0.contains("retry:") })
        let deadline = ContinuousClock.now + .seconds(10)
        while statuses.watcherCount == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        // The same stream recorded again (an ACK that changes nothing the page shows).
        for _ in 0..<20 { statuses.update(connectionID: "c1", connectedAt: Date(timeIntervalSince1970: 0), machine: machine) }
        let text = await Self.read(&iterator, until: { $0.contains(": keep-alive") })
        #expect(text.contains(": keep-alive"))
        #expect(!text.contains("event: proxies"))
        task.cancel()
        _ = try? await task.value
    }

    @Test func theLimiterBoundsOpenStreamsAndLeasesGiveBackTheirSlot() {
        let limiter = EventStreamLimiter(limit: 2)
        var first = limiter.acquire()
        let second = limiter.acquire()
        #expect(first != nil && second != nil)
        #expect(limiter.acquire() == nil)
        #expect(limiter.count == 2)
        second?.release()
        second?.release()
        #expect(limiter.count == 1, "a second release gives nothing back")
        first = nil  // a lease whose response never ran is given back when dropped
        #expect(limiter.count == 0)
        #expect(limiter.acquire() != nil)
        _ = first
    }

    @Test func registryChangeSignalsCoalesce() async {
        let statuses = ProxyStatusRegistry()
        let changes = statuses.changes()
        for index in 0..<100 {
            statuses.update(connectionID: "c\(index)", connectedAt: .now, machine: StreamStateMachine(streamID: "c\(index)"))
        }
        statuses.remove(connectionID: "unknown")  // nothing removed: no signal
        var iterator = changes.makeAsyncIterator()
        #expect(await iterator.next() != nil)
        statuses.remove(connectionID: "c0")
        #expect(await iterator.next() != nil, "one pending signal at most, and a removal signals again")
        #expect(statuses.watcherCount == 1)
    }
}

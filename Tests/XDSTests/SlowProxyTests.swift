import EnvoyAPI
import GRPCCore
import Logging
import Synchronization
import Testing
import Translator
import XDSCore

@testable import PushPipeline
@testable import XDS

/// Counts which PushContext revisions were generated; emits one listener per revision.
private final class CountingListenerGenerator: ResourceGenerator {
    let revisions = Mutex<[Int64]>([])
    var typeURL: String { TypeURL.listener }

    func generate(for view: ProxyView, in push: PushContext) -> [XDSResource] {
        revisions.withLock { $0.append(push.revision) }
        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = "listener-\(push.revision)"
        return [XDSResource(name: listener.name, message: listener)]
    }
}

/// A proxy that stops reading: every write waits until the test opens the gate.
private final class GatedWriter: RPCWriterProtocol {
    typealias Element = Envoy_Service_Discovery_V3_DiscoveryResponse
    private let gate: AsyncStream<Void>
    private let opener: AsyncStream<Void>.Continuation
    let written = Mutex<[Element]>([])
    let blocked = Atomic<Int>(0)

    init() {
        (gate, opener) = AsyncStream<Void>.makeStream()
    }

    func open() { opener.finish() }

    func write(_ element: Element) async throws {
        blocked.add(1, ordering: .relaxed)
        for await _ in gate {}
        written.withLock { $0.append(element) }
    }

    func write(contentsOf elements: some Sequence<Element>) async throws {
        for element in elements { try await write(element) }
    }
}

@Suite struct SlowProxyTests {
    private func context(_ revision: Int64) -> PushContext {
        PushContext(revision: revision, registry: .init(), virtualServices: [:], destinationRules: [:], warnings: [])
    }

    /// Fifty publishes while a proxy does not read: when it reads again it gets the newest
    /// configuration, and the forty-eight in between were never generated or held for it.
    @Test func aProxyThatStopsReadingHoldsAtMostOnePendingPush() async throws {
        let generator = CountingListenerGenerator()
        let publisher = PushContextPublisher()
        publisher.publish(context(1))
        let server = AggregatedDiscoveryServer(
            publisher: publisher,
            cache: SnapshotCache(generators: GeneratorTable(trustDomain: "cluster.local", generators: [.proxylessGRPC: [generator]])),
            statuses: ProxyStatusRegistry(), metrics: nil, logger: Logger(label: "test"))
        let writer = GatedWriter()
        let (requests, proxySends) = AsyncThrowingStream<Envoy_Service_Discovery_V3_DiscoveryRequest, any Error>.makeStream()
        var subscribe = Envoy_Service_Discovery_V3_DiscoveryRequest()
        subscribe.typeURL = TypeURL.listener
        subscribe.node.id = "slow-proxy"
        proxySends.yield(subscribe)

        let serverContext = ServerContext(
            descriptor: MethodDescriptor(fullyQualifiedService: "ads", method: "stream"),
            remotePeer: "test", localPeer: "test", cancellation: .init())
        let stream = Task {
            try await server.streamAggregatedResources(
                request: RPCAsyncSequence(wrapping: requests),
                response: RPCWriter(wrapping: writer), context: serverContext)
        }
        // The first response is stuck in the proxy's (closed) receive window.
        while writer.blocked.load(ordering: .relaxed) == 0 { try await Task.sleep(for: .milliseconds(5)) }
        for revision in 2...50 { publisher.publish(context(Int64(revision))) }
        try await Task.sleep(for: .milliseconds(100))
        writer.open()
        // The stream catches up with exactly one push: the newest.
        for _ in 0..<500 where writer.written.withLock({ $0.count }) < 2 { try await Task.sleep(for: .milliseconds(10)) }
        proxySends.finish()
        try await stream.value

        #expect(generator.revisions.withLock { $0 } == [1, 50])
        let sent = writer.written.withLock { $0 }
        #expect(sent.count == 2)
        #expect(sent.last?.resources.count == 1)
    }
}

@Suite struct SnapshotSharingTests {
    /// A thousand streams of one view asking at once for a new revision: one generation.
    @Test func proxiesWithOneViewShareOneGenerationPerPush() async throws {
        let generator = CountingListenerGenerator()
        let cache = SnapshotCache(generators: GeneratorTable(trustDomain: "cluster.local", generators: [.proxylessGRPC: [generator]]))
        for revision in Int64(1)...3 {
            let push = PushContext(revision: revision, registry: .init(), virtualServices: [:], destinationRules: [:], warnings: [])
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<1000 {
                    group.addTask { _ = await cache.snapshot(for: Proxy(id: "proxy-\(index)"), push: push) }
                }
            }
        }
        #expect(cache.generations == 3)
        #expect(generator.revisions.withLock { $0 } == [1, 2, 3])
    }
}

import EnvoyAPI
import GRPCCore
import Logging
import MeshModel
import Synchronization
import Testing
import Translator
import XDSCore

@testable import PushPipeline
@testable import XDS

/// Records what the server writes.
private final class CollectingWriter: RPCWriterProtocol {
    typealias Element = Envoy_Service_Discovery_V3_DiscoveryResponse
    let written = Mutex<[Element]>([])

    func write(_ element: Element) async throws { written.withLock { $0.append(element) } }

    func write(contentsOf elements: some Sequence<Element>) async throws {
        for element in elements { try await write(element) }
    }
}

/// How a gRPC server's inbound listener names reach its view: the stream reads them from the
/// LDS subscription a request leaves (`names(of:after:)`) before answering it, and the cache
/// generates the listeners of the addresses in the proxy's key.
@Suite struct InboundListenerPlumbingTests {
    static let inbound = "xds.istio.io/grpc/lds/inbound/0.0.0.0:50051"

    @Test func sotwRequestNamesTheWholeSubscription() {
        var machine = StreamStateMachine(streamID: "s")
        let first = DiscoveryRequestInfo(typeURL: TypeURL.listener, resourceNames: [Self.inbound, "a:1"])
        #expect(machine.names(of: TypeURL.listener, after: first) == [Self.inbound, "a:1"])
        _ = machine.receive(first)
        let other = DiscoveryRequestInfo(typeURL: TypeURL.cluster, resourceNames: ["c"])
        #expect(machine.names(of: TypeURL.listener, after: other) == [Self.inbound, "a:1"])
        #expect(machine.names(of: TypeURL.listener, after: DiscoveryRequestInfo(typeURL: TypeURL.listener, resourceNames: ["a:1"])) == ["a:1"])
    }

    @Test func deltaRequestChangesTheSubscription() {
        var machine = DeltaStreamStateMachine(streamID: "d")
        let first = DeltaDiscoveryRequestInfo(typeURL: TypeURL.listener, subscribe: [Self.inbound])
        #expect(machine.names(of: TypeURL.listener, after: first) == [Self.inbound])
        _ = machine.receive(first)
        let more = DeltaDiscoveryRequestInfo(typeURL: TypeURL.listener, subscribe: ["a:1"], unsubscribe: [Self.inbound])
        #expect(machine.names(of: TypeURL.listener, after: more) == ["a:1"])
        #expect(machine.names(of: TypeURL.listener, after: DeltaDiscoveryRequestInfo(typeURL: TypeURL.route, subscribe: ["r"])) == [Self.inbound])
    }

    @Test func aServerOnTheSameAddressSharesItsSnapshotAndGetsItsListener() async throws {
        let push = PushContextBuilder.build(revision: 1, inputs: [])
        let cache = SnapshotCache(generators: .testing)
        let address = try #require(InboundAddress(listenerName: Self.inbound))
        var a = Proxy(id: "a", labels: ["pod": "a"])
        var b = Proxy(id: "b", labels: ["pod": "b"])
        a.inbound = [address]
        b.inbound = [address]
        let snapshot = await cache.snapshot(for: a, push: push)
        _ = await cache.snapshot(for: b, push: push)
        #expect(cache.generations == 1)
        #expect(snapshot.of(TypeURL.listener).keys.sorted() == [Self.inbound])
        var machine = StreamStateMachine(streamID: "s", snapshot: snapshot)
        let sends = machine.receive(DiscoveryRequestInfo(typeURL: TypeURL.listener, resourceNames: [Self.inbound])).sends
        #expect(sends.map { $0.resources.map(\.name) } == [[Self.inbound]])
    }

    /// Through the real stream loop: the first LDS answer already holds the inbound listener
    /// the request names, and naming another address moves the proxy to a view with both.
    @Test func theStreamAnswersInboundNamesFromTheRequestsOwnView() async throws {
        let publisher = PushContextPublisher()
        publisher.publish(PushContextBuilder.build(revision: 1, inputs: []))
        let server = AggregatedDiscoveryServer(
            publisher: publisher, cache: SnapshotCache(generators: .testing), statuses: ProxyStatusRegistry(),
            metrics: nil, logger: Logger(label: "test"))
        let writer = CollectingWriter()
        let (requests, proxySends) = AsyncThrowingStream<Envoy_Service_Discovery_V3_DiscoveryRequest, any Error>.makeStream()
        let context = ServerContext(
            descriptor: MethodDescriptor(fullyQualifiedService: "ads", method: "stream"),
            remotePeer: "test", localPeer: "test", cancellation: .init())
        let stream = Task {
            try await server.streamAggregatedResources(
                request: RPCAsyncSequence(wrapping: requests),
                response: RPCWriter(wrapping: writer), context: context)
        }
        func responses(atLeast count: Int) async throws -> [Envoy_Service_Discovery_V3_DiscoveryResponse] {
            let deadline = ContinuousClock.now + .seconds(10)
            while writer.written.withLock({ $0.count }) < count && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            return writer.written.withLock { $0 }
        }
        func names(_ response: Envoy_Service_Discovery_V3_DiscoveryResponse) throws -> [String] {
            try response.resources.map { try Envoy_Config_Listener_V3_Listener(serializedBytes: $0.value).name }
        }
        var first = Envoy_Service_Discovery_V3_DiscoveryRequest()
        first.typeURL = TypeURL.listener
        first.node.id = "server"
        first.resourceNames = [Self.inbound]
        proxySends.yield(first)
        let answered = try await responses(atLeast: 1)
        #expect(try answered.map(names) == [[Self.inbound]])

        let other = "xds.istio.io/grpc/lds/inbound/[::]:8080"
        var more = Envoy_Service_Discovery_V3_DiscoveryRequest()
        more.typeURL = TypeURL.listener
        more.versionInfo = answered[0].versionInfo
        more.responseNonce = answered[0].nonce
        more.resourceNames = [Self.inbound, other]
        proxySends.yield(more)
        let all = try await responses(atLeast: 2)
        proxySends.finish()
        try await stream.value
        #expect(try all.count == 2 && names(all[1]) == [other, Self.inbound].sorted())
    }
}

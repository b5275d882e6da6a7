import MeshModel
import Testing
import Translator
@testable import XDS

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

    @Test func aServerOnTheSameAddressSharesItsSnapshotAndGetsItsListener() throws {
        let push = PushContextBuilder.build(revision: 1, inputs: [])
        let cache = SnapshotCache()
        let address = try #require(InboundAddress(listenerName: Self.inbound))
        var a = Proxy(id: "a", labels: ["pod": "a"]), b = Proxy(id: "b", labels: ["pod": "b"])
        a.inbound = [address]
        b.inbound = [address]
        let snapshot = cache.snapshot(for: a, push: push)
        _ = cache.snapshot(for: b, push: push)
        #expect(cache.generations == 1)
        #expect(snapshot.of(TypeURL.listener).keys.sorted() == [Self.inbound])
        var machine = StreamStateMachine(streamID: "s", snapshot: snapshot)
        let sends = machine.receive(DiscoveryRequestInfo(typeURL: TypeURL.listener, resourceNames: [Self.inbound])).sends
        #expect(sends.map { $0.resources.map(\.name) } == [[Self.inbound]])
    }
}

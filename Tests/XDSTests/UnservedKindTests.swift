import EnvoyAPI
import GRPCCore
import Logging
import MeshModel
import MeshTesting
import Synchronization
import Testing
import Translator
import XDSCore

@testable import PushPipeline
@testable import XDS

private final class RecordingWriter<Element: Sendable>: RPCWriterProtocol {
    let written = Mutex<[Element]>([])
    func write(_ element: Element) async throws { written.withLock { $0.append(element) } }
    func write(contentsOf elements: some Sequence<Element>) async throws {
        for element in elements { try await write(element) }
    }
}

/// A kind the generator table does not serve gets one documented answer: its stream ends with
/// UNIMPLEMENTED naming its kind, it is sent nothing, and it is not listed. meshd's own table
/// serves every kind; a table without gateways stands in for a kind not served.
@Suite struct UnservedKindTests {
    static let node = "router~10.0.0.9~ingress-1.istio-system~istio-system.svc.cluster.local"

    static func server(_ statuses: ProxyStatusRegistry) throws -> AggregatedDiscoveryServer {
        let publisher = PushContextPublisher()
        var inputs: [PushContextBuilder.Input] = []
        for resource in CanaryFixture.resources(CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"])) {
            inputs.append(.init(key: resource.key, createdRevision: 1, config: try ConfigValidator.validate(resource)))
        }
        publisher.publish(PushContextBuilder.build(revision: 1, inputs: inputs))
        return AggregatedDiscoveryServer(
            publisher: publisher, cache: SnapshotCache(generators: withoutGateways), statuses: statuses,
            metrics: nil, logger: Logger(label: "test"))
    }

    static let context = ServerContext(
        descriptor: MethodDescriptor(fullyQualifiedService: "ads", method: "stream"),
        remotePeer: "test", localPeer: "test", cancellation: .init())

    /// meshd's table without its gateway generators.
    static let withoutGateways = GeneratorTable(
        trustDomain: GeneratorTable.testing.trustDomain,
        generators: [
            .proxylessGRPC: GeneratorTable.testing.generators(for: .proxylessGRPC),
            .sidecar: GeneratorTable.testing.generators(for: .sidecar),
        ])

    @Test func meshdsTableServesEveryKindEveryType() {
        #expect(!Self.withoutGateways.serves(.gateway))
        for kind in ProxyKind.allCases {
            #expect(GeneratorTable.testing.serves(kind))
            #expect(
                Set(GeneratorTable.testing.generators(for: kind).map(\.typeURL))
                    == Set([TypeURL.cluster, TypeURL.endpoint, TypeURL.listener, TypeURL.route] + (kind == .gateway ? [TypeURL.secret] : [])))
        }
    }

    @Test(arguments: ["sotw", "delta"])
    func aRouterStreamIsRefusedAndSentNothing(_ protocolName: String) async throws {
        let statuses = ProxyStatusRegistry()
        let server = try Self.server(statuses)
        var thrown: (any Error)?
        var sent = 0
        if protocolName == "sotw" {
            let writer = RecordingWriter<Envoy_Service_Discovery_V3_DiscoveryResponse>()
            var request = Envoy_Service_Discovery_V3_DiscoveryRequest()
            request.typeURL = TypeURL.cluster
            request.node.id = Self.node
            request.node.userAgentName = "envoy"
            let requests = AsyncThrowingStream<Envoy_Service_Discovery_V3_DiscoveryRequest, any Error> { $0.yield(request) }
            do {
                try await server.streamAggregatedResources(
                    request: RPCAsyncSequence(wrapping: requests),
                    response: RPCWriter(wrapping: writer), context: Self.context)
            } catch { thrown = error }
            sent = writer.written.withLock { $0.count }
        } else {
            let writer = RecordingWriter<Envoy_Service_Discovery_V3_DeltaDiscoveryResponse>()
            var request = Envoy_Service_Discovery_V3_DeltaDiscoveryRequest()
            request.typeURL = TypeURL.cluster
            request.node.id = Self.node
            request.node.userAgentName = "envoy"
            let requests = AsyncThrowingStream<Envoy_Service_Discovery_V3_DeltaDiscoveryRequest, any Error> { $0.yield(request) }
            do {
                try await server.deltaAggregatedResources(
                    request: RPCAsyncSequence(wrapping: requests),
                    response: RPCWriter(wrapping: writer), context: Self.context)
            } catch { thrown = error }
            sent = writer.written.withLock { $0.count }
        }
        let error = try #require(thrown as? RPCError)
        #expect(error.code == .unimplemented)
        #expect(error.message.contains("does not serve Envoy gateways"))
        #expect(error.message.contains(Self.node))
        #expect(sent == 0)
        #expect(statuses.all.isEmpty)
    }
}

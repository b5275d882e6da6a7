import AsyncAlgorithms
import Dispatch
import EnvoyAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import MeshModel
import MeshTesting
import PushPipeline
import Synchronization
import Translator
import XDS

/// The transport floor for push benchmarks: an ADS server over the same grpc-swift-2 transport
/// as meshd that does the least a correct state-of-the-world server can — answer each
/// subscription with canned, pre-encoded resources (the canary's, generated once by meshd's own
/// generators), ignore ACKs, and on SIGUSR1 write the next route configuration to every stream
/// that subscribed to it. meshd's per-proxy cost is judged against this one's.
///
/// `meshd-bench ads-floor --port P` serves until killed; trigger a change with `kill -USR1 PID`.
enum TransportFloor {
    static func serve(port: Int) async throws {
        let before = try snapshot(revision: 1, weights: [("v1", 50), ("v2", 50)])
        let after = try snapshot(revision: 2, weights: [("v1", 0), ("v2", 100)])
        let publisher = PushContextPublisher()
        let current = FloorIndex()
        signal(SIGUSR1, SIG_IGN)
        let trigger = DispatchSource.makeSignalSource(signal: SIGUSR1)
        trigger.setEventHandler {
            current.value.store(1, ordering: .relaxed)
            publisher.publish(.empty)
        }
        trigger.resume()
        let service = FloorService(snapshots: [before, after], current: current, publisher: publisher)
        let server = GRPCServer(
            transport: .http2NIOPosix(
                address: .ipv4(host: "127.0.0.1", port: port),
                transportSecurity: .plaintext),
            services: [service])
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.serve() }
            if let address = try await server.listeningAddress?.ipv4 {
                FileHandle.standardOutput.write(Data("ads-floor listening on 127.0.0.1:\(address.port), pid \(getpid()); kill -USR1 to push\n".utf8))
            }
        }
    }

    private static func snapshot(revision: Int64, weights: [(String, Int)]) throws -> ProxySnapshot {
        var inputs: [PushContextBuilder.Input] = []
        for resource in CanaryFixture.resources(
            CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            CanaryFixture.virtualService(weights))
        {
            inputs.append(.init(key: resource.key, createdRevision: 1, config: try ConfigValidator.validate(resource)))
        }
        return ProxySnapshot(proxy: Proxy(id: "floor"), push: PushContextBuilder.build(revision: revision, inputs: inputs), table: .testing)
    }
}

/// Which canned snapshot is current (0 before the trigger, 1 after).
private final class FloorIndex: Sendable {
    let value = Atomic<Int>(0)
}

private struct FloorService: Envoy_Service_Discovery_V3_AggregatedDiscoveryService.SimpleServiceProtocol {
    let snapshots: [ProxySnapshot]
    let current: FloorIndex
    let publisher: PushContextPublisher

    private enum Input: Sendable {
        case request(Envoy_Service_Discovery_V3_DiscoveryRequest)
        case trigger
    }

    func streamAggregatedResources(
        request: RPCAsyncSequence<Envoy_Service_Discovery_V3_DiscoveryRequest, any Error>,
        response: RPCWriter<Envoy_Service_Discovery_V3_DiscoveryResponse>,
        context: ServerContext
    ) async throws {
        var nonce = 0
        var routeNames: [String]?
        var sentRoutes = -1
        func send(_ typeURL: String, names: [String], wildcard: Bool) async throws {
            let snapshot = snapshots[current.value.load(ordering: .relaxed)]
            let all = snapshot.of(typeURL)
            let resources = wildcard ? Array(all.values) : names.compactMap { all[$0] }
            nonce += 1
            var message = Envoy_Service_Discovery_V3_DiscoveryResponse()
            message.typeURL = typeURL
            message.versionInfo = ContentVersion.of(resources)
            message.nonce = String(nonce)
            message.resources = resources.map(\.payload)
            try await response.write(message)
        }
        let inputs = merge(request.map { Input.request($0) }, publisher.changes().map { _ in Input.trigger })
        for try await input in inputs {
            switch input {
            case .request(let message):
                guard message.responseNonce.isEmpty else { continue }  // ACK or NACK: nothing to do
                let fullState = message.typeURL == TypeURL.listener || message.typeURL == TypeURL.cluster
                if message.typeURL == TypeURL.route {
                    routeNames = message.resourceNames
                    sentRoutes = current.value.load(ordering: .relaxed)
                }
                try await send(message.typeURL, names: message.resourceNames, wildcard: fullState && message.resourceNames.isEmpty)
            case .trigger:
                let now = current.value.load(ordering: .relaxed)
                guard let names = routeNames, sentRoutes != now else { continue }
                sentRoutes = now
                try await send(TypeURL.route, names: names, wildcard: false)
            }
        }
    }

    func deltaAggregatedResources(
        request: RPCAsyncSequence<Envoy_Service_Discovery_V3_DeltaDiscoveryRequest, any Error>,
        response: RPCWriter<Envoy_Service_Discovery_V3_DeltaDiscoveryResponse>,
        context: ServerContext
    ) async throws {
        throw RPCError(code: .unimplemented, message: "state of the world only")
    }
}

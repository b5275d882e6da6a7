import Foundation
import Logging
import MeshModel
import MeshTesting
import PushPipeline
import Storage
import Translator
import XDS

/// Measures the push pipeline's own cost for one change, from the store's change feed to a
/// snapshot ready to write (the debouncer's build + publish, then the shared snapshot
/// generation), at `services` services × `endpoints` endpoints: a full change (a
/// DestinationRule edit) and a one-endpoint change (one WorkloadEntry's port).
enum PipelineBenchmark {
    static func run(services: Int, endpoints: Int, iterations: Int, fullChanges: Bool = true) async throws -> String {
        let store = InMemoryConfigStore()
        var resources: [ConfigResource] = []
        for s in 0..<services {
            // One body per service: the whole mesh in one body would pass the 1 MiB parse budget.
            let text = [ServiceFixture.service(s)] + (0..<endpoints).map { ServiceFixture.workload(s, $0, port: 9080) }
            resources += try ConfigDocumentParser.parse(text.joined(separator: "\n---\n"))
        }
        _ = try await store.apply(resources)
        let publisher = PushContextPublisher()
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let debouncer = PushDebouncer(store: store, publisher: publisher, logger: logger)
        let cache = SnapshotCache(generators: .testing)
        let proxy = Proxy(id: "bench")
        try await debouncer.buildAndPublish()
        _ = await cache.snapshot(for: proxy, push: publisher.current!)

        func measure(_ change: (Int) throws -> [ConfigResource]) async throws -> Duration {
            var total = Duration.zero
            for i in 0..<iterations {
                _ = try await store.apply(try change(i))  // the write is not measured
                let start = ContinuousClock.now
                try await debouncer.buildAndPublish()
                _ = await cache.snapshot(for: proxy, push: publisher.current!)
                total += start.duration(to: .now)
            }
            return total / iterations
        }
        let endpoint = try await measure { i in
            try ConfigDocumentParser.parse(ServiceFixture.workload(i % services, 0, port: UInt32(10_000 + i)))
        }
        guard fullChanges else { return "pipeline: one-endpoint change \(endpoint) (\(iterations) iterations)" }
        let full = try await measure { i in
            try ConfigDocumentParser.parse(ServiceFixture.destinationRule(i % services, subsets: i % 2 == 0 ? ["v1"] : ["v1", "v2"]))
        }
        let generated = await cache.snapshot(for: proxy, push: publisher.current!).resources.values.reduce(0) { $0 + $1.count }
        return "pipeline: \(services) services x \(endpoints) endpoints (\(generated) xDS resources): "
            + "one-endpoint change \(endpoint), full change \(full) per change, feed to snapshot (\(iterations) iterations)"
    }
}

/// The benchmark mesh: per service a ServiceEntry, a DestinationRule with subsets v1/v2 and a
/// 50/50 VirtualService; WorkloadEntries alternate v1/v2.
enum ServiceFixture {
    /// The validated inputs of `services` services with `endpoints` workloads each on port 9080,
    /// with creation revisions in order.
    static func inputs(services: Int, endpoints: Int) throws -> [PushContextBuilder.Input] {
        var inputs: [PushContextBuilder.Input] = []
        for s in 0..<services {
            var texts = [service(s)]
            texts += (0..<endpoints).map { workload(s, $0, port: 9080) }
            for resource in try texts.flatMap({ try ConfigDocumentParser.parse($0) }) {
                inputs.append(.init(key: resource.key, createdRevision: Int64(inputs.count + 1), config: try ConfigValidator.validate(resource)))
            }
        }
        return inputs
    }

    static func service(_ s: Int) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: svc-\(s)}
        spec: {hosts: [svc-\(s).default.svc.cluster.local], ports: [{number: 9080, name: grpc, protocol: GRPC}], resolution: STATIC, workloadSelector: {labels: {app: svc-\(s)}}}
        ---
        \(destinationRule(s, subsets: ["v1", "v2"]))
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: svc-\(s)}
        spec: {hosts: [svc-\(s)], http: [{route: [{destination: {host: svc-\(s), subset: v1}, weight: 50}, {destination: {host: svc-\(s), subset: v2}, weight: 50}]}]}
        """
    }

    static func destinationRule(_ s: Int, subsets: [String]) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: svc-\(s)}
        spec: {host: svc-\(s), subsets: [\(subsets.map { "{name: \($0), labels: {version: \($0)}}" }.joined(separator: ", "))]}
        """
    }

    static func workload(_ s: Int, _ e: Int, port: UInt32) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: svc-\(s)-\(e)}
        spec: {address: 10.\(s / 250).\(s % 250).\(e + 1), ports: {grpc: \(port)}, labels: {app: svc-\(s), version: v\(e % 2 + 1)}}
        """
    }
}

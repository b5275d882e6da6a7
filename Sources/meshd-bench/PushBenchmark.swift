import MeshModel
import PushPipeline
import Translator
import XDS

/// Measures building a PushContext and generating + encoding every resource for one proxy, for a
/// mesh of `services` services with `endpoints` workloads each, a DestinationRule with two subsets
/// and a 50/50 VirtualService per service.
enum PushBenchmark {
    static func run(services: Int, endpoints: Int, iterations: Int) throws -> String {
        var inputs: [PushContextBuilder.Input] = []
        var revision: Int64 = 0
        func add(_ yaml: String) throws {
            for resource in try ConfigDocumentParser.parse(yaml) {
                revision += 1
                inputs.append(.init(key: resource.key, createdRevision: revision, config: try ConfigValidator.validate(resource)))
            }
        }
        for s in 0..<services {
            try add(ServiceFixture.service(s))
            for e in 0..<endpoints { try add(ServiceFixture.workload(s, e, port: 9080)) }
        }
        let clock = ContinuousClock()
        var resources = 0
        let elapsed = clock.measure {
            for i in 0..<iterations {
                let push = PushContextBuilder.build(revision: Int64(i), inputs: inputs)
                let snapshot = ProxySnapshot(proxy: Proxy(id: "bench"), push: push, table: .testing)
                resources = snapshot.resources.values.reduce(0) { $0 + $1.count }
            }
        }
        let perBuild = elapsed / iterations
        return "push: \(services) services x \(endpoints) endpoints (\(inputs.count) resources in) -> \(resources) xDS resources; "
            + "PushContext build + generate + encode: \(perBuild) per revision (\(iterations) iterations)"
    }
}

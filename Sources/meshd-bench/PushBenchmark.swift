import MeshModel
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
            try add("""
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: svc-\(s)}
                spec: {hosts: [svc-\(s).default.svc.cluster.local], ports: [{number: 9080, name: grpc, protocol: GRPC}], resolution: STATIC, workloadSelector: {labels: {app: svc-\(s)}}}
                ---
                apiVersion: networking.istio.io/v1
                kind: DestinationRule
                metadata: {name: svc-\(s)}
                spec: {host: svc-\(s), subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}
                ---
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: svc-\(s)}
                spec: {hosts: [svc-\(s)], http: [{route: [{destination: {host: svc-\(s), subset: v1}, weight: 50}, {destination: {host: svc-\(s), subset: v2}, weight: 50}]}]}
                """)
            for e in 0..<endpoints {
                try add("""
                    apiVersion: networking.istio.io/v1
                    kind: WorkloadEntry
                    metadata: {name: svc-\(s)-\(e)}
                    spec: {address: 10.\(s / 250).\(s % 250).\(e + 1), ports: {grpc: 9080}, labels: {app: svc-\(s), version: v\(e % 2 + 1)}}
                    """)
            }
        }
        let clock = ContinuousClock()
        var resources = 0
        let elapsed = clock.measure {
            for i in 0..<iterations {
                let push = PushContextBuilder.build(revision: Int64(i), inputs: inputs)
                let snapshot = ProxySnapshot(proxy: Proxy(id: "bench"), push: push)
                resources = snapshot.resources.values.reduce(0) { $0 + $1.count }
            }
        }
        let perBuild = elapsed / iterations
        return "push: \(services) services x \(endpoints) endpoints (\(inputs.count) resources in) -> \(resources) xDS resources; "
            + "PushContext build + generate + encode: \(perBuild) per revision (\(iterations) iterations)"
    }
}

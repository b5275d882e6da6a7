import MeshModel
import PushPipeline
import Translator
import XDS

/// Measures one proxy's generation + encoding at one PushContext, proxyless gRPC against an
/// Envoy sidecar (whose view key also scans the registry for its own workload), for the mesh
/// `PushBenchmark` builds.
enum EnvoyBenchmark {
    static func run(services: Int, endpoints: Int, iterations: Int) throws -> String {
        let inputs = try ServiceFixture.inputs(services: services, endpoints: endpoints)
        let push = PushContextBuilder.build(revision: 1, inputs: inputs)
        let clock = ContinuousClock()
        func measure(_ proxy: Proxy) -> (Duration, Int) {
            var count = 0
            let elapsed = clock.measure {
                for _ in 0..<iterations {
                    count = ProxySnapshot(proxy: proxy, push: push, table: .testing).resources.values.reduce(0) { $0 + $1.count }
                }
            }
            return (elapsed / iterations, count)
        }
        let sidecar = Proxy(id: "sidecar~10.0.0.1~a.default~default.svc.cluster.local", kind: .sidecar, instanceIPs: ["10.0.0.1"])
        let (grpc, grpcCount) = measure(Proxy(id: "bench"))
        let (envoy, envoyCount) = measure(sidecar)
        let keys = clock.measure { for _ in 0..<iterations { _ = push.viewKey(for: sidecar) } } / iterations
        return "envoy: \(services) services x \(endpoints) endpoints; generate + encode per proxy: proxyless \(grpc) (\(grpcCount) resources), "
            + "Envoy sidecar \(envoy) (\(envoyCount) resources); sidecar view key (own-workload scan) \(keys)"
    }
}

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
        let sidecar = Proxy(
            id: "sidecar~10.0.0.1~a.default~default.svc.cluster.local", kind: .sidecar, labels: ["app": "svc-0", "version": "v1"],
            instanceIPs: ["10.0.0.1"])
        let (grpc, grpcCount) = measure(Proxy(id: "bench"))
        let (envoy, envoyCount) = measure(sidecar)
        let keys = clock.measure { for _ in 0..<iterations { _ = push.viewKey(for: sidecar) } } / iterations
        // Zero trust: the same mesh under mesh-wide STRICT, a workload policy with a port-level
        // mode, and ten AuthorizationPolicies selecting the sidecar (LDS is what they change).
        let secured = PushContextBuilder.build(revision: 1, inputs: inputs + (try policyInputs(after: inputs.count)))
        func listeners(_ push: PushContext) -> Duration {
            clock.measure {
                for _ in 0..<iterations * 20 {
                    _ = GeneratorTable.testing.resources(TypeURL.listener, for: sidecar, in: push).map(\.payload)
                }
            } / (iterations * 20)
        }
        let plainLDS = listeners(push)
        let securedLDS = listeners(secured)
        return "envoy: \(services) services x \(endpoints) endpoints; generate + encode per proxy: proxyless \(grpc) (\(grpcCount) resources), "
            + "Envoy sidecar \(envoy) (\(envoyCount) resources); sidecar view key (own-workload scan) \(keys); "
            + "sidecar LDS generate + encode: no policies \(plainLDS), STRICT + 10 AuthorizationPolicies \(securedLDS)"
    }

    /// Mesh STRICT, a workload PeerAuthentication with a port-level mode, and ten policies (five
    /// ALLOW, three DENY, two AUDIT) selecting `app: svc-0`.
    static func policyInputs(after offset: Int) throws -> [PushContextBuilder.Input] {
        var texts = [
            "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: mesh, namespace: istio-system}\nspec: {mtls: {mode: STRICT}}",
            "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: svc-0, namespace: default}\nspec: {selector: {matchLabels: {app: svc-0}}, portLevelMtls: {9090: {mode: PERMISSIVE}}}",
        ]
        for (index, action) in ["ALLOW", "ALLOW", "ALLOW", "ALLOW", "ALLOW", "DENY", "DENY", "DENY", "AUDIT", "AUDIT"].enumerated() {
            texts.append(
                """
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: p\(index), namespace: default}
                spec:
                  selector: {matchLabels: {app: svc-0}}
                  action: \(action)
                  rules:
                  - from: [{source: {principals: [cluster.local/ns/default/sa/caller-\(index)], namespaces: [ns-\(index)]}}]
                    to: [{operation: {methods: [GET, POST], paths: ['/api/v\(index)/*', '/items/{*}/view'], ports: ['9080']}}]
                    when: [{key: 'request.headers[x-tenant]', values: [t\(index)]}]
                """)
        }
        var inputs: [PushContextBuilder.Input] = []
        for resource in try texts.flatMap({ try ConfigDocumentParser.parse($0) }) {
            inputs.append(.init(key: resource.key, createdRevision: Int64(offset + inputs.count + 1), config: try ConfigValidator.validate(resource)))
        }
        return inputs
    }
}

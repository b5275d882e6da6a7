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
        // End-user auth on top: three JWT rules (two RequestAuthentications) and two CUSTOM
        // policies delegated to a gRPC authorizer from the mesh config.
        let authenticated = PushContextBuilder.build(
            revision: 1, inputs: inputs + (try policyInputs(after: inputs.count)) + (try endUserInputs(after: inputs.count + 20)),
            settings: try endUserSettings())
        let authenticatedLDS = listeners(authenticated)
        return "envoy: \(services) services x \(endpoints) endpoints; generate + encode per proxy: proxyless \(grpc) (\(grpcCount) resources), "
            + "Envoy sidecar \(envoy) (\(envoyCount) resources); sidecar view key (own-workload scan) \(keys); "
            + "sidecar LDS generate + encode: no policies \(plainLDS), STRICT + 10 AuthorizationPolicies \(securedLDS), "
            + "+ 3 JWT rules and 2 CUSTOM policies \(authenticatedLDS)"
    }

    /// A mesh config with a gRPC external authorizer on svc-1 (a service of the fixture).
    static func endUserSettings() throws -> MeshSettings {
        let config = try MeshConfig.parse(
            "extensionProviders:\n- name: authz\n  envoyExtAuthzGrpc: {service: svc-1.default.svc.cluster.local, port: 9080}")
        return MeshSettings(extensionProviders: config.config.extensionProviders)
    }

    /// Two RequestAuthentications (three rules with inline keys) and two CUSTOM policies
    /// selecting `app: svc-0`.
    static func endUserInputs(after offset: Int) throws -> [PushContextBuilder.Input] {
        let keys =
            #"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#
        let texts = [
            "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: users, namespace: default}\nspec:\n  selector: {matchLabels: {app: svc-0}}\n  jwtRules:\n  - {issuer: https://a.example, audiences: [svc-0], jwks: '\(keys)'}\n  - {issuer: https://b.example, jwks: '\(keys)', fromHeaders: [{name: x-jwt}]}",
            "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: mesh, namespace: istio-system}\nspec:\n  jwtRules:\n  - {issuer: https://mesh.example, jwks: '\(keys)', outputClaimToHeaders: [{header: x-sub, claim: sub}]}",
            "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ext-a, namespace: default}\nspec:\n  selector: {matchLabels: {app: svc-0}}\n  action: CUSTOM\n  provider: {name: authz}\n  rules: [{to: [{operation: {paths: ['/admin/*']}}]}]",
            "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ext-b, namespace: default}\nspec:\n  selector: {matchLabels: {app: svc-0}}\n  action: CUSTOM\n  provider: {name: authz}\n  rules: [{to: [{operation: {methods: [DELETE]}}]}]",
        ]
        var inputs: [PushContextBuilder.Input] = []
        for resource in try texts.flatMap({ try ConfigDocumentParser.parse($0) }) {
            inputs.append(.init(key: resource.key, createdRevision: Int64(offset + inputs.count + 1), config: try ConfigValidator.validate(resource)))
        }
        return inputs
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

import MeshModel
import PushPipeline
import Translator
import XDS

/// Measures a dry run's impact computation (`ChangeImpact`) for a mesh of `services` services
/// with `endpoints` workloads, a DestinationRule and a 50/50 VirtualService each, and
/// `clients` proxyless gRPC clients spread over `namespaces` namespaces (each watching one
/// service by name, as grpcio does) plus `sidecars` Envoy sidecars (subscriptions unknown: every
/// resource counts), when one VirtualService moves to 0/100.
enum ImpactBenchmark {
    static func run(services: Int, endpoints: Int, clients: Int, namespaces: Int, sidecars: Int, iterations: Int) throws -> String {
        let inputs = try ServiceFixture.inputs(services: services, endpoints: endpoints)
        let moved = try ConfigDocumentParser.parse(
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: svc-0}
            spec: {hosts: [svc-0], http: [{route: [{destination: {host: svc-0, subset: v1}, weight: 0}, {destination: {host: svc-0, subset: v2}, weight: 100}]}]}
            """)[0]
        let movedConfig = try ConfigValidator.validate(moved)
        let shifted = inputs.map {
            $0.key == moved.key ? PushContextBuilder.Input(key: $0.key, createdRevision: $0.createdRevision, config: movedConfig) : $0
        }
        let before = PushContextBuilder.build(revision: 1, inputs: inputs)
        let after = PushContextBuilder.build(revision: 2, inputs: shifted)

        var targets: [ChangeImpact.Target] = []
        for c in 0..<clients {
            let host = "svc-\(c % services).default.svc.cluster.local:9080"
            let cluster = "outbound|9080|v1|svc-\(c % services).default.svc.cluster.local"
            targets.append(
                .init(
                    proxy: Proxy(id: "client-\(c)", namespace: "ns-\(c % namespaces)"),
                    subscriptions: [
                        TypeURL.listener: .names([host]), TypeURL.route: .names([host]),
                        TypeURL.cluster: .names([cluster]), TypeURL.endpoint: .names([cluster]),
                    ]))
        }
        for s in 0..<sidecars {
            let ip = "10.\(s / 250).\(s % 250).1"
            targets.append(
                .init(
                    proxy: Proxy(
                        id: "sidecar~\(ip)~svc-\(s)-0.default~default.svc.cluster.local", kind: .sidecar,
                        instanceIPs: [ip])))
        }
        let clock = ContinuousClock()
        var impact: ChangeImpact?
        let cold =
            clock.measure {
                for _ in 0..<iterations { impact = ChangeImpact.compute(targets, before: before, after: after, generators: .testing) }
            } / iterations
        // As meshd runs it: the streams' snapshots of the current context are reused.
        var cache: [ViewKey: ProxySnapshot] = [:]
        let warm = targets.map { target -> ChangeImpact.Target in
            let key = before.viewKey(for: target.proxy)
            let snapshot =
                cache[key]
                ?? ProxySnapshot(view: ProxyView(key: key, push: before), push: before, generators: GeneratorTable.testing.generators(for: key.kind))
            cache[key] = snapshot
            return .init(proxy: target.proxy, subscriptions: target.subscriptions, snapshot: snapshot)
        }
        var reusing: ChangeImpact?
        let reused =
            clock.measure {
                for _ in 0..<iterations { reusing = ChangeImpact.compute(warm, before: before, after: after, generators: .testing) }
            } / iterations
        return
            "impact: \(services) services x \(endpoints) endpoints, \(clients) proxyless clients in \(namespaces) namespaces + \(sidecars) Envoy sidecars; "
            + "one VirtualService 50/50 -> 0/100: \(impact?.affected.count ?? 0) proxies affected, "
            + "\(impact?.generations ?? 0) generations: \(cold) per dry run; reusing the streams' snapshots "
            + "(\(reusing?.generations ?? 0) generations): \(reused) (\(iterations) iterations)"
    }
}

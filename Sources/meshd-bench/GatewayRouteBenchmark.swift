import MeshModel
import PushPipeline
import Translator

/// Measures what Gateway API routes cost beside VirtualServices: the same mesh of `services`
/// services split 50/50, once as VirtualServices over DestinationRule subsets and once as
/// HTTPRoutes over per-version Services; a PushContext build alone, then build + generate +
/// encode for one proxyless client of every service; and validating one route for a write (the
/// CRD schema and every CEL rule) against one VirtualService.
enum GatewayRouteBenchmark {
    static func run(services: Int, iterations: Int) throws -> String {
        let virtualServices = try inputs(services: services, routes: false)
        let routes = try inputs(services: services, routes: true)
        // The same Services with no route: what the routes' translation adds to a build.
        let unrouted = routes.filter { $0.key.kind != .httpRoute }
        let clock = ContinuousClock()
        func measure(_ inputs: [PushContextBuilder.Input], generate: Bool) -> Duration {
            clock.measure {
                for i in 0..<iterations {
                    let push = PushContextBuilder.build(revision: Int64(i), inputs: inputs)
                    if generate { _ = ProxySnapshot(proxy: Proxy(id: "bench"), push: push, table: .testing) }
                }
            } / iterations
        }
        let route = try ConfigDocumentParser.parse(routeText(0))[0]
        let virtualService = try ConfigDocumentParser.parse(ServiceFixture.service(0)).last!
        let writes = 2000
        let routeWrite = try clock.measure { for _ in 0..<writes { _ = try ConfigValidator.validateForWrite(route) } } / writes
        let vsWrite = try clock.measure { for _ in 0..<writes { _ = try ConfigValidator.validateForWrite(virtualService) } } / writes
        return "gateway api: \(services) services split 50/50; PushContext build: VirtualServices \(measure(virtualServices, generate: false)), "
            + "HTTPRoutes \(measure(routes, generate: false)) (their Services without the routes \(measure(unrouted, generate: false))); build + generate + encode (one proxyless client): VirtualServices "
            + "\(measure(virtualServices, generate: true)), HTTPRoutes \(measure(routes, generate: true)); validate one for a write: "
            + "HTTPRoute \(routeWrite), VirtualService \(vsWrite) (\(iterations) iterations)"
    }

    /// Per service: ServiceEntries `svc-N`, `svc-N-v1`, `svc-N-v2` with two workloads, and a
    /// 50/50 HTTPRoute (`routes`), or the fixture's subsets and VirtualService.
    static func inputs(services: Int, routes: Bool) throws -> [PushContextBuilder.Input] {
        var inputs: [PushContextBuilder.Input] = []
        for s in 0..<services {
            var texts = routes ? [versionServices(s), routeText(s)] : [ServiceFixture.service(s)]
            texts += (0..<2).map { ServiceFixture.workload(s, $0, port: 9080) }
            for resource in try texts.flatMap({ try ConfigDocumentParser.parse($0) }) {
                inputs.append(.init(key: resource.key, createdRevision: Int64(inputs.count + 1), config: try ConfigValidator.validate(resource)))
            }
        }
        return inputs
    }

    static func versionServices(_ s: Int) -> String {
        ["", "-v1", "-v2"].map { suffix in
            let selector = suffix.isEmpty ? "{app: svc-\(s)}" : "{app: svc-\(s), version: \(suffix.dropFirst())}"
            return """
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: svc-\(s)\(suffix)}
                spec: {hosts: [svc-\(s)\(suffix).default.svc.cluster.local], ports: [{number: 9080, name: grpc, protocol: GRPC}], resolution: STATIC, workloadSelector: {labels: \(selector)}}
                """
        }.joined(separator: "\n---\n")
    }

    static func routeText(_ s: Int) -> String {
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: svc-\(s)}
        spec:
          parentRefs: [{group: "", kind: Service, name: svc-\(s), port: 9080}]
          rules: [{backendRefs: [{name: svc-\(s)-v1, port: 9080, weight: 50}, {name: svc-\(s)-v2, port: 9080, weight: 50}]}]
        """
    }
}

import Discovery
import Foundation
import Kubernetes
import Logging
import MeshModel
import MeshTesting
import PushPipeline
import Translator
import XDS

/// The Kubernetes registry at `services` Services × `podsPerService` pods (one EndpointSlice
/// each): memory held per pod once synced (the list/watch machines' objects, the registry, the
/// PushContext), and the time from one EndpointSlice change (a pod turning not ready) arriving
/// as a watch event to the EDS-only snapshot of a proxy that sees every service. No HTTP: the
/// API server side is measured end to end by `Tests/interop/bench_kube.py`.
enum KubernetesBenchmark {
    static func run(services: Int, podsPerService: Int, iterations: Int) async throws -> String {
        let residentBefore = residentBytes()
        var machines: [KubeResource: ListWatchMachine] = [:]
        var registry = KubernetesRegistry()
        let source = PlatformRegistrySource()
        let syncStart = ContinuousClock.now
        for (resource, objects) in objects(services: services, podsPerService: podsPerService) {
            var machine = ListWatchMachine()
            _ = machine.handle(.start)
            for effect in machine.handle(.listPage(items: objects, continueToken: nil, resourceVersion: "1")) {
                if case .upsert(let object) = effect { _ = registry.upsert(resource, object) }
            }
            machines[resource] = machine
        }
        source.publish(registry.output, endpointHosts: nil, synced: true)
        let store = InMemoryConfigStore()
        let publisher = PushContextPublisher()
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let debouncer = PushDebouncer(store: store, publisher: publisher, platform: source, logger: logger)
        try await debouncer.buildAndPublish()
        let cache = SnapshotCache(generators: .testing)
        let proxy = Proxy(id: "bench")
        _ = await cache.snapshot(for: proxy, push: publisher.current!)
        let synced = syncStart.duration(to: .now)
        let residentAfter = residentBytes()
        let pods = services * podsPerService

        var total = Duration.zero
        var version = 2
        for i in 0..<iterations {
            let service = i % services
            let slice = slice(service, pods: podsPerService, notReady: i % podsPerService, rv: "\(version)")
            version += 1
            let start = ContinuousClock.now
            var machine = machines[.endpointslices]!
            var change = KubernetesRegistry.Change()
            for effect in machine.handle(.event(.modified(slice))) {
                if case .upsert(let object) = effect { change.formUnion(registry.upsert(.endpointslices, object)) }
            }
            machines[.endpointslices] = machine
            source.publish(registry.output, endpointHosts: change.services ? nil : change.endpointHosts, synced: true)
            try await debouncer.buildAndPublish()
            let snapshot = await cache.snapshot(for: proxy, push: publisher.current!)
            total += start.duration(to: .now)
            guard case .endpoints = publisher.current!.scope, snapshot.version == publisher.current!.version else {
                throw BenchmarkError("an EndpointSlice change was not pushed as an endpoint-only change")
            }
        }
        let perPod = residentAfter > residentBefore ? (residentAfter - residentBefore) / pods : 0
        return "kubernetes: \(services) Services x \(podsPerService) pods (\(pods) pods): synced in \(synced), "
            + "\(perPod) bytes resident per pod (\((residentAfter - residentBefore) / 1_048_576) MiB); "
            + "EndpointSlice event to EDS-only snapshot \(total / iterations) (\(iterations) iterations)"
    }

    struct BenchmarkError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// The API objects of the mesh, by resource, in list order.
    static func objects(services: Int, podsPerService: Int) -> [(KubeResource, [KubeObject])] {
        let nodes = (0..<10).map { n in
            object(
                #"{"metadata":{"name":"node-\#(n)","resourceVersion":"1","labels":{"topology.kubernetes.io/region":"r1","topology.kubernetes.io/zone":"z\#(n % 3)","kubernetes.io/hostname":"node-\#(n)"}}}"#
            )
        }
        var pods: [KubeObject] = []
        var serviceObjects: [KubeObject] = []
        var slices: [KubeObject] = []
        for s in 0..<services {
            serviceObjects.append(
                object(
                    #"{"metadata":{"name":"svc-\#(s)","namespace":"default","resourceVersion":"1","labels":{"app":"svc-\#(s)"}},"spec":{"clusterIP":"10.96.\#(s / 250).\#(s % 250)","selector":{"app":"svc-\#(s)"},"ports":[{"name":"grpc","port":9080,"targetPort":8080}]}}"#
                ))
            for p in 0..<podsPerService {
                pods.append(
                    object(
                        #"{"metadata":{"name":"svc-\#(s)-\#(p)","namespace":"default","resourceVersion":"1","labels":{"app":"svc-\#(s)","version":"v\#(p % 2 + 1)","pod-template-hash":"7f9c8d6b5"}},"spec":{"serviceAccountName":"svc-\#(s)","nodeName":"node-\#(p % 10)","containers":[{"name":"app","image":"example/app:1","ports":[{"containerPort":8080,"name":"grpc"}]}]},"status":{"phase":"Running","podIP":"\#(ip(s, p))","conditions":[{"type":"Ready","status":"True"}]}}"#
                    ))
            }
            slices.append(slice(s, pods: podsPerService, notReady: nil, rv: "1"))
        }
        let namespaces = [object(#"{"metadata":{"name":"default","resourceVersion":"1"}}"#)]
        return [(.namespaces, namespaces), (.nodes, nodes), (.pods, pods), (.services, serviceObjects), (.endpointslices, slices)]
    }

    static func ip(_ s: Int, _ p: Int) -> String {
        let n = s * 64 + p
        return "10.\(n / 65536 % 256).\(n / 256 % 256).\(n % 256)"
    }

    static func slice(_ s: Int, pods: Int, notReady: Int?, rv: String) -> KubeObject {
        let endpoints = (0..<pods).map { p in
            #"{"addresses":["\#(ip(s, p))"],"conditions":{"ready":\#(p == notReady ? "false" : "true"),"serving":true,"terminating":false},"nodeName":"node-\#(p % 10)","targetRef":{"kind":"Pod","name":"svc-\#(s)-\#(p)","namespace":"default"}}"#
        }
        return object(
            #"{"metadata":{"name":"svc-\#(s)-abcde","namespace":"default","resourceVersion":"\#(rv)","labels":{"kubernetes.io/service-name":"svc-\#(s)"}},"addressType":"IPv4","ports":[{"name":"grpc","port":8080,"protocol":"TCP"}],"endpoints":[\#(endpoints.joined(separator: ","))]}"#
        )
    }

    static func object(_ json: String) -> KubeObject {
        guard let value = try? JSONValue.parse(json: json), let object = KubeObject(body: value) else { fatalError("bad bench object") }
        return object
    }

    /// The process's resident set size (`/proc/self/statm`), in bytes.
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

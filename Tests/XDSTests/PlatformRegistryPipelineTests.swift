import Discovery
import Logging
import MeshModel
import MeshTesting
import Storage
import Testing
import Translator
import XDSCore

@testable import PushPipeline

/// The push loop with a platform registry (Kubernetes) beside the store: merge rules, and a
/// pod's readiness pushed as EDS only.
@Suite struct PlatformRegistryPipelineTests {
    static let host = "reviews.default.svc.cluster.local"
    static let vm = """
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: vm-1, namespace: default}
        spec: {address: 10.0.0.9, ports: {grpc-api: 9443}, labels: {app: reviews, version: v1}}
        """

    static func pod(_ name: String, _ address: String, version: String, health: HealthStatus = .healthy) -> Endpoint {
        Endpoint(
            address: address, port: 8080, labels: ["app": "reviews", "version": version], locality: Locality(), weight: 1,
            health: health, serviceAccount: "reviews", source: RegistrySource(kind: .pod, namespace: "default", name: name))
    }

    static func platform(v2Health: HealthStatus = .healthy) -> PlatformServices {
        let service = Service(
            host: host, namespace: "default", ports: [Service.Port(number: 9080, name: "grpc-api", protocolName: "GRPC", targetPort: 8080)],
            source: RegistrySource(kind: .service, namespace: "default", name: "reviews"), location: "MESH_INTERNAL")
        return PlatformServices(
            services: [host: service],
            endpoints: [
                host: [9080: [pod("reviews-v1", "127.0.0.2", version: "v1"), pod("reviews-v2", "127.0.0.3", version: "v2", health: v2Health)]]
            ],
            selectors: [host: ["app": "reviews"]])
    }

    /// What a full build of the store plus `platform` gives.
    static func rebuilt(_ store: InMemoryConfigStore, platform: PlatformServices) async throws -> PushContext {
        var index = ConfigIndex()
        index.platform = platform
        index.load(try await store.snapshot())
        return index.context()
    }

    @Test func aPlatformServiceSelectsWorkloadEntriesAndTakesItsHostFromAServiceEntry() async throws {
        let store = InMemoryConfigStore()
        _ = try await store.apply(CanaryFixture.resources(CanaryFixture.registry, Self.vm))
        let source = PlatformRegistrySource()
        source.publish(Self.platform(), endpointHosts: nil, synced: true)
        let publisher = PushContextPublisher()
        let debouncer = PushDebouncer(store: store, publisher: publisher, platform: source, logger: Logger(label: "test"))
        try await debouncer.buildAndPublish()
        let push = try #require(publisher.current)
        #expect(push.registry.service(Self.host)?.source.kind == .service)
        let endpoints = push.registry.endpoints(host: Self.host, port: 9080)
        // The pods, then the WorkloadEntries the Service's selector picks (vm-1 on its named port,
        // the others, whose ports do not name grpc-api, on the target port); the ServiceEntry
        // that declared the same host gives way.
        #expect(
            endpoints.map { "\($0.address):\($0.port)" } == ["127.0.0.2:8080", "127.0.0.3:8080", "127.0.0.1:8080", "127.0.0.1:8080", "10.0.0.9:9443"])
        #expect(endpoints.map(\.source.kind) == [.pod, .pod] + Array(repeating: .workloadEntry, count: endpoints.count - 2))
        #expect(endpoints.contains { $0.address == "10.0.0.9" && $0.port == 9443 })
    }

    @Test func aPodTurningNotReadyIsPushedAsEDSOnlyAndEqualsAFullBuild() async throws {
        let store = InMemoryConfigStore()
        _ = try await store.apply(CanaryFixture.resources(CanaryFixture.destinationRule(subsets: ["v1", "v2"]), Self.vm))
        let source = PlatformRegistrySource()
        source.publish(Self.platform(), endpointHosts: nil, synced: true)
        let publisher = PushContextPublisher()
        let debouncer = PushDebouncer(store: store, publisher: publisher, platform: source, logger: Logger(label: "test"))
        try await debouncer.buildAndPublish()
        let cache = SnapshotCache(generators: .testing)
        let proxy = Proxy(id: "p")
        let first = await cache.snapshot(for: proxy, push: try #require(publisher.current))

        source.publish(Self.platform(v2Health: .unhealthy), endpointHosts: [Self.host], synced: true)
        try await debouncer.buildAndPublish()
        let push = try #require(publisher.current)
        #expect(push.scope == .endpoints(since: first.version, hosts: [Self.host]))
        #expect(push.revision == first.revision && push.version > first.version)
        let endpoints = push.registry.endpoints(host: Self.host, port: 9080)
        #expect(endpoints.map(\.health) == [.healthy, .unhealthy, .healthy])
        #expect(endpoints.last?.source.kind == .workloadEntry)  // the selected WorkloadEntry stays
        let second = await cache.snapshot(for: proxy, push: push)
        #expect(second.version == push.version)
        for (typeURL, resources) in second.resources {
            for (name, resource) in resources where typeURL != TypeURL.endpoint {
                #expect(resource.version == first.of(typeURL)[name]?.version, "\(name) changed on an endpoint-only push")
            }
        }
        #expect(second.of(TypeURL.endpoint) != first.of(TypeURL.endpoint))
        let full = try await Self.rebuilt(store, platform: source.current)
        #expect(push.registry == full.registry)
        let generated = ProxySnapshot(proxy: proxy, push: full, table: .testing)
        for (typeURL, resources) in generated.resources {
            #expect(resources.mapValues(\.version) == second.of(typeURL).mapValues(\.version))
        }
    }

    @Test func aWorkloadEntryAPlatformSelectorPicksIsRebuiltNotPatched() async throws {
        let store = InMemoryConfigStore()
        _ = try await store.apply(CanaryFixture.resources(Self.vm))
        let source = PlatformRegistrySource()
        source.publish(Self.platform(), endpointHosts: nil, synced: true)
        let publisher = PushContextPublisher()
        let debouncer = PushDebouncer(store: store, publisher: publisher, platform: source, logger: Logger(label: "test"))
        try await debouncer.buildAndPublish()
        #expect(publisher.current?.registry.endpoints(host: Self.host, port: 9080).count == 3)
        _ = try await store.apply(CanaryFixture.resources(Self.vm.replacingOccurrences(of: "app: reviews", with: "app: other")))
        try await debouncer.buildAndPublish()
        let push = try #require(publisher.current)
        #expect(push.registry.endpoints(host: Self.host, port: 9080).map(\.source.kind) == [.pod, .pod])
        #expect(push.registry == (try await Self.rebuilt(store, platform: source.current)).registry)
    }

    @Test func theSourceSaysWhatChangedSinceTheCallersGeneration() {
        let source = PlatformRegistrySource()
        #expect(!source.isSynced)
        source.publish(Self.platform(), endpointHosts: nil, synced: false)
        #expect(source.take(since: 0).change == .services)
        source.publish(Self.platform(), endpointHosts: ["a"], synced: true)
        source.publish(Self.platform(), endpointHosts: ["b"], synced: true)
        #expect(source.isSynced)
        let taken = source.take(since: 1)
        #expect(taken.change == .endpoints(["a", "b"]) && taken.services.generation == 3)
        #expect(source.take(since: 3).change == PlatformRegistrySource.Change.none)
        source.publish(Self.platform(), endpointHosts: ["c"], synced: true)
        // A caller that missed a take (a failed build) must rebuild.
        #expect(source.take(since: 2).change == .services)
        source.publish(Self.platform(), endpointHosts: ["d"], synced: true)
        source.publish(Self.platform(), endpointHosts: nil, synced: true)
        #expect(source.take(since: 4).change == .services)
    }
}

import Logging
import MeshModel
import MeshTesting
import Storage
import Testing
import Translator
import XDSCore

@testable import PushPipeline
@testable import XDS

/// Per-proxy views end to end: one generation per distinct view, and a change outside a view
/// sends its proxies nothing at all, in SotW and in Delta.
@Suite struct ViewSharingTests {
    static func service(_ name: String, _ namespace: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
          hosts: [\(name).\(namespace).svc.cluster.local]
          ports: [{number: 9080, name: grpc, protocol: GRPC}]
          workloadSelector: {labels: {app: \(name)}}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: \(name)-1, namespace: \(namespace)}
        spec: {address: 127.0.0.1, ports: {grpc: 9091}, labels: {app: \(name)}}
        """
    }

    static let onlyOwnNamespace = """
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: default, namespace: a}
        spec:
          egress:
          - hosts: ["./*"]
        """

    static func push(_ texts: String...) throws -> PushContext {
        var inputs: [PushContextBuilder.Input] = []
        for resource in try texts.flatMap({ try ConfigDocumentParser.parse($0) }) {
            inputs.append(.init(key: resource.key, createdRevision: Int64(inputs.count + 1), config: try ConfigValidator.validate(resource)))
        }
        return PushContextBuilder.build(revision: 1, inputs: inputs)
    }

    @Test func proxiesWithEqualViewsShareOneGenerationAndOthersDoNot() async throws {
        let push = try Self.push(Self.service("reviews", "a"), Self.service("ratings", "b"), Self.onlyOwnNamespace)
        let cache = SnapshotCache(generators: .testing)
        let first = await cache.snapshot(for: Proxy(id: "a-1", namespace: "a", labels: ["app": "x"]), push: push)
        let second = await cache.snapshot(for: Proxy(id: "a-2", namespace: "a", labels: ["app": "y"]), push: push)
        #expect(cache.generations == 1)
        #expect(first.of(TypeURL.listener).keys.sorted() == second.of(TypeURL.listener).keys.sorted())
        let other = await cache.snapshot(for: Proxy(id: "b-1", namespace: "b"), push: push)
        _ = await cache.snapshot(for: Proxy(id: "b-2", namespace: "b", labels: ["app": "z"]), push: push)
        #expect(cache.generations == 2)
        #expect(first.of(TypeURL.listener).keys.sorted() == ["reviews.a.svc.cluster.local:9080"])
        #expect(other.of(TypeURL.listener).count == 2)
        // A Sidecar selecting one workload splits that proxy off.
        let selecting = try Self.push(
            Self.service("reviews", "a"), Self.service("ratings", "b"), Self.onlyOwnNamespace,
            """
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: x, namespace: a}
            spec:
              workloadSelector: {labels: {app: x}}
              egress:
              - hosts: ["b/*"]
            """)
        #expect(
            selecting.viewKey(for: Proxy(id: "a-1", namespace: "a", labels: ["app": "x"]))
                != selecting.viewKey(for: Proxy(id: "a-2", namespace: "a", labels: ["app": "y"])))
    }

    @Test func unusedSlotsAreDroppedOnceTheMapIsLarge() async throws {
        let cache = SnapshotCache(generators: .testing, sweepThreshold: 2)
        let old = try Self.push(Self.service("reviews", "a"))
        for namespace in ["n1", "n2", "n3", "n4"] {
            _ = await cache.snapshot(for: Proxy(id: namespace, namespace: namespace), push: old)
        }
        #expect(cache.slotCount == 4, "every key is in use at the latest revision: nothing to drop")
        let newer = PushContextBuilder.build(revision: 2, inputs: [])
        _ = await cache.snapshot(for: Proxy(id: "m1", namespace: "m1"), push: newer)
        _ = await cache.snapshot(for: Proxy(id: "m2", namespace: "m2"), push: newer)
        _ = await cache.snapshot(for: Proxy(id: "m3", namespace: "m3"), push: newer)
        #expect(cache.slotCount == 3, "the revision-1 keys went when the map reached its threshold")
    }

    /// Applies `texts`, pushes, and returns the published context.
    static func apply(
        _ store: InMemoryConfigStore, _ debouncer: PushDebouncer, _ publisher: PushContextPublisher,
        _ texts: String...
    ) async throws -> PushContext {
        var resources: [ConfigResource] = []
        for text in texts { resources += try ConfigDocumentParser.parse(text) }
        _ = try await store.apply(resources)
        try await debouncer.buildAndPublish()
        return try #require(publisher.current)
    }

    @Test func aChangeOutsideTheViewSendsNoResponseOfAnyType() async throws {
        let store = InMemoryConfigStore()
        let publisher = PushContextPublisher()
        let debouncer = PushDebouncer(store: store, publisher: publisher, logger: Logger(label: "test"))
        let first = try await Self.apply(
            store, debouncer, publisher, Self.service("reviews", "a"), Self.service("ratings", "b"),
            Self.onlyOwnNamespace)
        let cache = SnapshotCache(generators: .testing)
        let inA = Proxy(id: "a", namespace: "a")
        let inB = Proxy(id: "b", namespace: "b")
        var sotwA = StreamStateMachine(streamID: "a", snapshot: await cache.snapshot(for: inA, push: first))
        var deltaA = DeltaStreamStateMachine(streamID: "da", snapshot: await cache.snapshot(for: inA, push: first))
        var sotwB = StreamStateMachine(streamID: "b", snapshot: await cache.snapshot(for: inB, push: first))
        Self.subscribeToEverything(&sotwA, await cache.snapshot(for: inA, push: first))
        Self.subscribeToEverything(&sotwB, await cache.snapshot(for: inB, push: first))
        Self.subscribeToEverything(&deltaA, await cache.snapshot(for: inA, push: first))

        // An endpoint-only change in b (the fast path), then a new service in b (a full build).
        let moved = Self.service("ratings", "b").replacingOccurrences(of: "ports: {grpc: 9091}", with: "ports: {grpc: 9092}")
        let endpoints = try await Self.apply(store, debouncer, publisher, moved)
        #expect(endpoints.scope != .full)
        #expect(sotwA.push(await cache.snapshot(for: inA, push: endpoints)).sends.isEmpty)
        #expect(deltaA.push(await cache.snapshot(for: inA, push: endpoints)).isEmpty)
        #expect(sotwB.push(await cache.snapshot(for: inB, push: endpoints)).sends.map(\.typeURL) == [TypeURL.endpoint])

        let added = try await Self.apply(store, debouncer, publisher, Self.service("details", "b"))
        #expect(added.scope == .full)
        #expect(sotwA.push(await cache.snapshot(for: inA, push: added)).sends.isEmpty)
        #expect(deltaA.push(await cache.snapshot(for: inA, push: added)).isEmpty)
        #expect(sotwB.push(await cache.snapshot(for: inB, push: added)).sends.contains { $0.typeURL == TypeURL.listener })
    }

    /// Subscribes to every type (LDS and CDS by wildcard, RDS and EDS by every name) and ACKs.
    static func subscribeToEverything(_ machine: inout StreamStateMachine, _ snapshot: ProxySnapshot) {
        for typeURL in [TypeURL.listener, TypeURL.cluster, TypeURL.route, TypeURL.endpoint] {
            let names = typeURL == TypeURL.route || typeURL == TypeURL.endpoint ? snapshot.of(typeURL).keys.sorted() : []
            for sent in machine.receive(.init(typeURL: typeURL, resourceNames: names, nodeID: "n")).sends {
                _ = machine.receive(.init(typeURL: sent.typeURL, versionInfo: sent.versionInfo, resourceNames: names, responseNonce: sent.nonce))
            }
        }
    }

    static func subscribeToEverything(_ machine: inout DeltaStreamStateMachine, _ snapshot: ProxySnapshot) {
        for typeURL in [TypeURL.listener, TypeURL.cluster, TypeURL.route, TypeURL.endpoint] {
            let names = typeURL == TypeURL.route || typeURL == TypeURL.endpoint ? snapshot.of(typeURL).keys.sorted() : []
            for sent in machine.receive(.init(typeURL: typeURL, subscribe: names, nodeID: "n")).sends {
                _ = machine.receive(.init(typeURL: sent.typeURL, responseNonce: sent.nonce))
            }
        }
    }
}

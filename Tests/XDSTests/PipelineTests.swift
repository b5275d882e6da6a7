import Logging
import MeshModel
import MeshTesting
import Storage
import Testing
import Translator
import XDSCore

@testable import PushPipeline
@testable import XDS

@Suite struct DebounceStateMachineTests {
    let start = ContinuousClock.now

    @Test func aLoneChangeIsPushedAtOnceAndABurstAfterItBecomesOnePush() {
        var machine = DebounceStateMachine<ContinuousClock.Instant>(quiet: .milliseconds(100), maxDelay: .seconds(10))
        #expect(machine.changed(at: start) == .push)  // idle: leading edge
        // Changes right after a push wait for quiet; each one moves the deadline.
        #expect(machine.changed(at: start + .milliseconds(10)) == .wait(until: start + .milliseconds(110)))
        #expect(machine.changed(at: start + .milliseconds(50)) == .wait(until: start + .milliseconds(150)))
        #expect(machine.tick(at: start + .milliseconds(110)) == .wait(until: start + .milliseconds(150)))
        #expect(machine.tick(at: start + .milliseconds(150)) == .push)
        #expect(!machine.isPending)
        #expect(machine.tick(at: start + .seconds(1)) == .idle)
        // Quiet since the last push: the next lone change goes at once again.
        #expect(machine.changed(at: start + .seconds(2)) == .push)
    }

    @Test func aSteadyStreamOfChangesStillPushesAtTheMaxDelay() {
        var machine = DebounceStateMachine<ContinuousClock.Instant>(quiet: .milliseconds(100), maxDelay: .milliseconds(250))
        #expect(machine.changed(at: start) == .push)
        var now = start
        var pushes = 0
        for _ in 0..<10 {
            now += .milliseconds(60)  // always inside the quiet period
            if machine.changed(at: now) == .push {
                pushes += 1
                break
            }
        }
        #expect(pushes == 1)
        #expect(now == start + .milliseconds(360))  // the window opened at 60 ms; 60 + 250 = 310 -> the change at 360
    }
}

@Suite struct IncrementalPipelineTests {
    static let workload = """
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: reviews-v1, namespace: default}
        spec: {address: 127.0.0.1, ports: {grpc: 9091}, labels: {app: reviews, version: v1}, locality: us-east/zone-a}
        """

    @Test func theIndexRevalidatesOnlyWhatChanged() async throws {
        let store = InMemoryConfigStore()
        _ = try await store.apply(CanaryFixture.resources(CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"])))
        var index = ConfigIndex()
        index.load(try await store.snapshot())
        #expect(index.validations == 4)
        index.load(try await store.snapshot())  // a reload (a gap in the feed): nothing new to validate
        #expect(index.validations == 4)
        let before = try #require(index.revision)
        _ = try await store.apply(CanaryFixture.resources(Self.workload))
        let delta = try #require(try await store.delta(after: before))
        #expect(delta.isEndpointsOnly)
        #expect(Array(delta.changes.keys) == [ConfigKey(kind: .workloadEntry, namespace: "default", name: "reviews-v1")])
        index.apply(delta)
        #expect(index.validations == 5)
        let endpoints = index.context().registry.endpoints(host: "reviews.default.svc.cluster.local", port: 9080)
        #expect(endpoints.map(\.port).sorted() == [9082, 9091])
    }

    @Test func anEndpointOnlyChangeRegeneratesOnlyTheTouchedServicesEndpoints() async throws {
        let store = InMemoryConfigStore()
        let other = CanaryFixture.registry
            .replacingOccurrences(of: "reviews", with: "ratings")
        _ = try await store.apply(
            CanaryFixture.resources(
                CanaryFixture.registry, other,
                CanaryFixture.destinationRule(subsets: ["v1", "v2"])))
        let publisher = PushContextPublisher()
        let debouncer = PushDebouncer(store: store, publisher: publisher, logger: Logger(label: "test"))
        try await debouncer.buildAndPublish()
        let cache = SnapshotCache(generators: .testing)
        let proxy = Proxy(id: "p")
        let first = await cache.snapshot(for: proxy, push: try #require(publisher.current))

        _ = try await store.apply(CanaryFixture.resources(Self.workload))
        try await debouncer.buildAndPublish()
        let push = try #require(publisher.current)
        #expect(push.scope == .endpoints(since: first.version, hosts: ["reviews.default.svc.cluster.local"]))
        let second = await cache.snapshot(for: proxy, push: push)
        #expect(cache.generations == 2)
        // Everything but reviews' endpoints is the very same resource (same bytes, same version).
        for (typeURL, resources) in second.resources {
            for (name, resource) in resources {
                let changed =
                    typeURL == TypeURL.endpoint && name.hasSuffix("|reviews.default.svc.cluster.local")
                    && !name.contains("|v2|")
                #expect((resource.version != first.of(typeURL)[name]?.version) == changed, "\(name)")
            }
        }
        // And it equals what a full build and generation would give.
        let rebuilt = PushContextFactory.build(from: try await store.snapshot())
        #expect(push.registry == rebuilt.registry)
        #expect(Set(push.warnings) == Set(rebuilt.warnings))
        let full = ProxySnapshot(proxy: proxy, push: rebuilt, table: .testing)
        for (typeURL, resources) in full.resources {
            #expect(resources.mapValues(\.version) == second.of(typeURL).mapValues(\.version))
        }
    }

    @Test func aWorkloadLeavingASelectorLeavesItsServiceAndItsOverflowWarningGoes() async throws {
        let store = InMemoryConfigStore()
        let heavy = Self.workload.replacingOccurrences(of: "locality: us-east/zone-a}", with: "locality: us-east/zone-a, weight: 4294967295}")
        _ = try await store.apply(CanaryFixture.resources(CanaryFixture.registry, heavy))
        let publisher = PushContextPublisher()
        let debouncer = PushDebouncer(store: store, publisher: publisher, logger: Logger(label: "test"))
        try await debouncer.buildAndPublish()
        #expect(publisher.current?.warnings.contains { $0.field == "spec.workloadSelector" } == true)
        // reviews-v1 is relabelled out of the `app: reviews` selector.
        let moved = Self.workload.replacingOccurrences(of: "labels: {app: reviews, version: v1}", with: "labels: {app: other}")
        _ = try await store.apply(CanaryFixture.resources(moved))
        try await debouncer.buildAndPublish()
        let push = try #require(publisher.current)
        guard case .endpoints(_, let hosts) = push.scope else {
            Issue.record("expected an endpoint-only push, got \(push.scope)")
            return
        }
        #expect(hosts == ["reviews.default.svc.cluster.local"])
        #expect(push.registry.endpoints(host: "reviews.default.svc.cluster.local", port: 9080).map(\.port) == [9082])
        #expect(!push.warnings.contains { $0.field == "spec.workloadSelector" })
        let rebuilt = PushContextFactory.build(from: try await store.snapshot())
        #expect(push.registry == rebuilt.registry)
        #expect(Set(push.warnings) == Set(rebuilt.warnings))
    }

    /// A run of endpoint-only changes — ports, labels in and out of selectors and subsets,
    /// weights, health, deletions, creations — each checked against a full rebuild.
    @Test func aRunOfEndpointChangesStaysEqualToFullRebuilds() async throws {
        let store = InMemoryConfigStore()
        let other = CanaryFixture.registry.replacingOccurrences(of: "reviews", with: "ratings")
        _ = try await store.apply(
            CanaryFixture.resources(
                CanaryFixture.registry, other,
                CanaryFixture.destinationRule(subsets: ["v1", "v2"])))
        let publisher = PushContextPublisher()
        let debouncer = PushDebouncer(store: store, publisher: publisher, logger: Logger(label: "test"))
        try await debouncer.buildAndPublish()
        let variants: [(name: String, spec: String?, annotations: String)] = [
            ("reviews-v1", "{address: 127.0.0.1, ports: {grpc: 9181}, labels: {app: reviews, version: v1}}", ""),
            ("reviews-v1", "{address: 127.0.0.1, ports: {grpc: 9181}, labels: {app: ratings, version: v2}}", ""),
            ("reviews-v3", "{address: 127.0.0.3, labels: {app: reviews, version: v2}, weight: 7}", ""),
            ("reviews-v3", "{address: 127.0.0.3, labels: {app: reviews, version: v2}, weight: 7}", "annotations: {meshd.io/healthy: \"false\"}, "),
            ("reviews-v2", nil, ""),
            ("ratings-v1", "{address: 10.0.0.1, labels: {app: ratings, version: v1}, locality: eu/z1, weight: 4294967290}", ""),
            ("ratings-v9", "{address: 10.0.0.9, labels: {app: ratings}, weight: 100}", ""),
            ("reviews-v1", nil, ""),
        ]
        for (index, variant) in variants.enumerated() {
            let key = ConfigKey(kind: .workloadEntry, namespace: "default", name: variant.name)
            if let spec = variant.spec {
                let text =
                    "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {\(variant.annotations)name: \(variant.name), namespace: default}\nspec: \(spec)"
                _ = try await store.apply(CanaryFixture.resources(text))
            } else {
                _ = try await store.delete([key])
            }
            try await debouncer.buildAndPublish()
            let push = try #require(publisher.current)
            guard case .endpoints = push.scope else {
                Issue.record("change \(index) was not endpoint-only: \(push.scope)")
                continue
            }
            let rebuilt = PushContextFactory.build(from: try await store.snapshot())
            #expect(push.registry == rebuilt.registry, "change \(index)")
            #expect(Set(push.warnings) == Set(rebuilt.warnings), "change \(index)")
        }
    }

    @Test func aServiceChangeIsAFullPush() async throws {
        let store = InMemoryConfigStore()
        _ = try await store.apply(CanaryFixture.resources(CanaryFixture.registry))
        let publisher = PushContextPublisher()
        let debouncer = PushDebouncer(store: store, publisher: publisher, logger: Logger(label: "test"))
        try await debouncer.buildAndPublish()
        _ = try await store.apply(CanaryFixture.resources(CanaryFixture.destinationRule(subsets: ["v1"])))
        try await debouncer.buildAndPublish()
        #expect(publisher.current?.scope == .full)
    }
}

@Suite struct RegistryReuseTests {
    /// Routing changes reuse the previous context's registry; a ServiceEntry change after them,
    /// then a mixed change, rebuild it. Every context equals a full rebuild from the store.
    @Test func routingChangesReuseTheRegistryAndEveryContextEqualsAFullRebuild() async throws {
        let store = InMemoryConfigStore()
        _ = try await store.apply(CanaryFixture.resources(CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"])))
        let publisher = PushContextPublisher()
        let debouncer = PushDebouncer(store: store, publisher: publisher, logger: Logger(label: "test"))
        try await debouncer.buildAndPublish()
        let other = CanaryFixture.registry.replacingOccurrences(of: "reviews", with: "ratings")
        let changes: [[String]] = [
            [CanaryFixture.virtualService([("v1", 50), ("v2", 50)])],
            [CanaryFixture.virtualService([("v2", 100)])],
            [other],
            [CanaryFixture.destinationRule(subsets: ["v2"]), IncrementalPipelineTests.workload],
            [CanaryFixture.virtualService([("v2", 100)]).replacingOccurrences(of: "name: reviews", with: "name: reviews-b")],
        ]
        for (step, texts) in changes.enumerated() {
            _ = try await store.apply(CanaryFixture.resources(texts.joined(separator: "\n---\n")))
            try await debouncer.buildAndPublish()
            let push = try #require(publisher.current)
            let rebuilt = PushContextFactory.build(from: try await store.snapshot())
            #expect(push.registry == rebuilt.registry, "step \(step)")
            #expect(Set(push.warnings) == Set(rebuilt.warnings), "step \(step)")
            #expect(push.virtualServices.keys.sorted() == rebuilt.virtualServices.keys.sorted(), "step \(step)")
            let proxy = Proxy(id: "p")
            let generated = ProxySnapshot(proxy: proxy, push: push, table: .testing)
            let expected = ProxySnapshot(proxy: proxy, push: rebuilt, table: .testing)
            for type in XDSTypeRegistry.standard.pushOrder {
                #expect(
                    generated.of(type.typeURL).mapValues(\.version) == expected.of(type.typeURL).mapValues(\.version),
                    "step \(step) \(type.shortName)")
            }
        }
    }

    /// The index lends a registry only to a context built after its registry inputs last changed.
    @Test func aContextOlderThanTheLastServiceChangeIsNotReused() async throws {
        let store = InMemoryConfigStore()
        _ = try await store.apply(CanaryFixture.resources(CanaryFixture.registry))
        var index = ConfigIndex()
        index.load(try await store.snapshot())
        let first = index.context()
        let known = try #require(index.revision)
        _ = try await store.apply(CanaryFixture.resources(IncrementalPipelineTests.workload))
        index.apply(try #require(try await store.delta(after: known)))
        let reused = index.context(reusing: first)
        #expect(reused.registry != first.registry)
        #expect(reused.registry.endpoints(host: "reviews.default.svc.cluster.local", port: 9080).map(\.port).sorted() == [9082, 9091])
    }
}

@Suite struct EarlyRequestTests {
    /// A stream's first request can be handled before its first snapshot (the two race at
    /// stream start). It must still be answered — with nothing, if nothing it names exists —
    /// or grpcio waits 15 s for the resource.
    @Test func aRequestBeforeTheFirstSnapshotIsAnsweredEvenWhenNothingMatches() throws {
        var machine = StreamStateMachine(streamID: "s")
        for typeURL in [TypeURL.route, TypeURL.cluster, TypeURL.endpoint] {
            #expect(machine.receive(.init(typeURL: typeURL, resourceNames: ["does-not-exist"])).sends.isEmpty)
        }
        let empty = ProxySnapshot(revision: 1, resources: [:])
        let sent = machine.push(empty).sends
        #expect(Set(sent.map(\.typeURL)) == [TypeURL.route, TypeURL.cluster, TypeURL.endpoint])
        #expect(sent.allSatisfy { $0.resources.isEmpty })
        // Answered once: the next identical push sends nothing.
        #expect(machine.push(ProxySnapshot(revision: 2, resources: [:])).sends.isEmpty)
    }
}

@Suite struct UnsubscribeTests {
    /// grpcio drops a cluster's CDS and EDS names when a route stops naming it; such an ACK
    /// needs no answer, while one that adds a name still gets it.
    @Test func anAckThatOnlyDropsNamesIsNotAnswered() throws {
        let base = try snapshot(revision: 1, CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]))
        var machine = StreamStateMachine(streamID: "s", snapshot: base)
        let first = try #require(machine.receive(.init(typeURL: TypeURL.endpoint, resourceNames: [v1Cluster, v2Cluster])).sends.first)
        let dropped = machine.receive(
            .init(
                typeURL: TypeURL.endpoint, versionInfo: first.versionInfo,
                resourceNames: [v2Cluster], responseNonce: first.nonce))
        #expect(dropped == [.acked(typeURL: TypeURL.endpoint, version: first.versionInfo)])
        // Adding a name back (echoing the same, still latest nonce) is answered with that name.
        let added = machine.receive(
            .init(
                typeURL: TypeURL.endpoint, versionInfo: first.versionInfo,
                resourceNames: [v1Cluster, v2Cluster], responseNonce: first.nonce))
        #expect(added.sends.map(\.names) == [[v1Cluster]])
    }
}

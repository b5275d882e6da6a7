import Logging
import MeshModel
import MeshTesting
import Storage
import Synchronization
import Testing
import Translator
import XDSCore

@testable import PushPipeline
@testable import XDS

/// A store whose reads fail while `failing` is set, as a database on a full or vanished disk does.
final class FlakyConfigStore: ConfigStore {
    let inner = InMemoryConfigStore()
    let failing = Atomic<Bool>(false)

    private func check() throws(StorageError) {
        if failing.load(ordering: .relaxed) { throw StorageError(code: .database, message: "disk I/O error") }
    }

    func write(_ write: ConfigWrite) async throws(StorageError) -> ChangeOutcome { try await inner.write(write) }
    func history(_ query: HistoryQuery) async throws(StorageError) -> HistoryPage {
        try check()
        return try await inner.history(query)
    }
    func historyWindow(after revision: Int64) async throws(StorageError) -> HistoryWindow {
        try check()
        return try await inner.historyWindow(after: revision)
    }
    func get(_ key: ConfigKey) async throws(StorageError) -> StoredConfig? {
        try check()
        return try await inner.get(key)
    }
    func list(kind: ConfigKind?, namespace: String?) async throws(StorageError) -> [StoredConfig] {
        try check()
        return try await inner.list(kind: kind, namespace: namespace)
    }
    func snapshot() async throws(StorageError) -> ConfigSnapshot {
        try check()
        return try await inner.snapshot()
    }
    func currentRevision() async throws(StorageError) -> Int64 {
        try check()
        return try await inner.currentRevision()
    }
    func revisions() -> AsyncStream<Int64> { inner.revisions() }
    func delta(after revision: Int64) async throws(StorageError) -> ConfigDelta? {
        try check()
        return try await inner.delta(after: revision)
    }
}

@Suite struct ContainmentTests {
    /// Polls `condition` (the debouncer runs in the background) for up to 10 s.
    private func eventually(_ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<1000 {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    @Test func aStoreErrorIsRetriedWithBackoffAndProxiesKeepTheLastConfig() async throws {
        let store = FlakyConfigStore()
        _ = try await store.apply(CanaryFixture.resources(CanaryFixture.registry))
        let publisher = PushContextPublisher()
        let health = ServingHealth()
        let debouncer = PushDebouncer(
            store: store, publisher: publisher, quiet: .milliseconds(5), health: health,
            backoff: .init(initial: .milliseconds(5), maximum: .milliseconds(20)),
            logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await debouncer.run() }
            #expect(try await eventually { health.hasBuiltConfiguration })
            let first = try #require(publisher.current?.revision)

            store.failing.store(true, ordering: .relaxed)
            _ = try await store.apply(CanaryFixture.resources(CanaryFixture.destinationRule(subsets: ["v1"])))
            #expect(try await eventually { health.degradations.contains { $0.id == "store" } })
            // Still serving: the last good context stays published and meshd stays ready.
            #expect(publisher.current?.revision == first)
            #expect(health.hasBuiltConfiguration)

            store.failing.store(false, ordering: .relaxed)
            #expect(try await eventually { (publisher.current?.revision ?? 0) > first })
            #expect(try await eventually { health.degradations.isEmpty })
            group.cancelAll()
        }
    }

    @Test func aSettingsChangeWithoutAStoreWriteIsPublished() async throws {
        let store = InMemoryConfigStore()
        _ = try await store.apply(CanaryFixture.resources(CanaryFixture.registry))
        let publisher = PushContextPublisher()
        let settings = MeshSettingsSource()
        let debouncer = PushDebouncer(
            store: store, publisher: publisher, quiet: .milliseconds(5), settings: settings, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await debouncer.run() }
            #expect(try await eventually { publisher.current != nil })
            let revision = try #require(publisher.current?.revision)
            // A fetched key set (or a reloaded mesh config): same store revision, new settings.
            #expect(settings.update { $0.fetchedKeySets["http://x/k"] = "{\"keys\":[]}" })
            #expect(!settings.update { $0.fetchedKeySets["http://x/k"] = "{\"keys\":[]}" })  // no change, no bump
            #expect(try await eventually { publisher.current?.settings.generation == 1 })
            #expect(publisher.current?.revision == revision)
            #expect(publisher.current?.settings.fetchedKeySets["http://x/k"] != nil)
            group.cancelAll()
        }
    }

    @Test func storedConfigThatNoLongerValidatesIsLeftOutAndReported() async throws {
        let store = InMemoryConfigStore()
        var resources = CanaryFixture.resources(CanaryFixture.registry, CanaryFixture.virtualService([("v1", 100)]))
        // As an older meshd would have stored it: a weight past int32.
        let index = try #require(resources.firstIndex { $0.key.kind == .virtualService })
        resources[index].spec = .object([
            "hosts": .array([.string("reviews")]),
            "http": .array([
                .object([
                    "route": .array([
                        .object([
                            "destination": .object(["host": .string("reviews")]), "weight": .number(4_294_967_296),
                        ])
                    ])
                ])
            ]),
        ])
        _ = try await store.apply(resources)
        let publisher = PushContextPublisher()
        let health = ServingHealth()
        let debouncer = PushDebouncer(store: store, publisher: publisher, health: health, logger: Logger(label: "test"))
        try await debouncer.buildAndPublish()
        let push = try #require(publisher.current)
        #expect(push.invalid.map(\.key) == [resources[index].key])
        #expect(push.invalid.first?.field == "spec.http[0].route[0].weight")
        #expect(push.virtualServices.isEmpty)
        #expect(push.registry.services.count == 1)  // the rest is still served
        #expect(health.hasBuiltConfiguration)
        #expect(health.degradations.map(\.id) == ["invalid-config"])
    }
}

@Suite struct StreamBoundsTests {
    @Test func anUnknownTypeIsAnsweredEmptyAndLeavesNoState() throws {
        let base = try snapshot(revision: 1, CanaryFixture.registry)
        var machine = StreamStateMachine(streamID: "s", snapshot: base)
        for index in 0..<1000 {
            let typeURL = "type.googleapis.com/made.up.Type\(index)"
            let events = machine.receive(.init(typeURL: typeURL, resourceNames: ["a"]))
            #expect(events.first == .unknownType(typeURL: typeURL))
            let sent = try #require(events.sends.first)
            #expect(sent.resources.isEmpty && sent.typeURL == typeURL)
            // Its ACK needs no answer: otherwise client and server would ping-pong forever.
            #expect(machine.receive(.init(typeURL: typeURL, responseNonce: sent.nonce)).sends.isEmpty)
        }
        #expect(machine.subscribedTypes.isEmpty)
    }

    @Test func theStreamCountStopsAtItsLimit() {
        let count = OpenStreamCount()
        #expect(count.enter(limit: 2))
        #expect(count.enter(limit: 2))
        #expect(!count.enter(limit: 2))
        count.leave()
        #expect(count.enter(limit: 2))
    }

    @Test func aSlowConsumerHoldsAtMostOnePendingSignalAndOnlyTheLatestContext() async throws {
        let publisher = PushContextPublisher()
        let changes = publisher.changes()
        for revision in 1...50 {
            publisher.publish(
                PushContext(
                    revision: Int64(revision), registry: .init(), virtualServices: [:],
                    destinationRules: [:], warnings: []))
        }
        // Fifty publishes while the consumer was away leave one signal, not fifty.
        let consumer = Task {
            var signals = 0
            for await _ in changes { signals += 1 }
            return signals
        }
        try await Task.sleep(for: .milliseconds(100))
        consumer.cancel()
        #expect(await consumer.value == 1)
        #expect(publisher.current?.revision == 50)
    }
}

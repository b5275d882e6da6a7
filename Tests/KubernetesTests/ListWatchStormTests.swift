import Kubernetes
import Testing

/// A model API server: objects with integer versions, a bounded event history (older resume
/// points get 410), pages over a snapshot, and the faults of a real one.
private struct ModelServer {
    var objects: [ObjectKey: Int] = [:]
    var history: [(version: Int, event: ListWatchMachine.Event)] = []
    var version = 0
    var window = 8

    mutating func change(_ rng: inout SplitMix) {
        version += 1
        let key = ObjectKey(namespace: "ns", name: "o\(rng.next() % 6)")
        let object = KubeObject(key: key, resourceVersion: String(version))
        let event: ListWatchMachine.Event
        if objects[key] != nil, rng.next() % 3 == 0 {
            objects.removeValue(forKey: key)
            event = .deleted(object)
        } else {
            event = objects[key] == nil ? .added(object) : .modified(object)
            objects[key] = version
        }
        history.append((version, event))
        if history.count > window { history.removeFirst(history.count - window) }
    }

    /// The events after `from`, or nil (410) when `from` is older than the window.
    func events(after from: Int) -> [ListWatchMachine.Event]? {
        if let oldest = history.first?.version, from < oldest - 1 { return nil }
        return history.filter { $0.version > from }.map(\.event)
    }
}

/// A small deterministic generator (SplitMix64), so a failing seed replays.
private struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Kubernetes list/watch under a storm")
struct ListWatchStormTests {
    /// Random changes interleaved with watch ends, resets, duplicated deliveries,
    /// bookmark-only stretches and history compaction: afterwards the consumer holds exactly
    /// the server's state, no (object, version) was applied twice, and every relist followed a 410.
    @Test(arguments: 0..<40)
    func theConsumerEndsEqualToTheServer(seed: UInt64) throws {
        var rng = SplitMix(state: seed &* 7919 &+ 1)
        var server = ModelServer()
        var machine = ListWatchMachine(pageSize: 3)
        var store: [ObjectKey: String] = [:]
        var applied: Set<String> = []
        var gones = 0
        var pending: [ListWatchMachine.Input] = [.start]
        var watchingFrom: Int?

        func run(_ input: ListWatchMachine.Input) throws {
            for effect in machine.handle(input) {
                switch effect {
                case .upsert(let object):
                    let id = "\(object.key)@\(object.resourceVersion)"
                    #expect(applied.insert(id).inserted, "applied twice: \(id)")
                    store[object.key] = object.resourceVersion
                case .delete(let object):
                    let id = "\(object.key)@deleted@\(object.resourceVersion)"
                    #expect(applied.insert(id).inserted, "deleted twice: \(id)")
                    store.removeValue(forKey: object.key)
                case .synced: break
                case .wait: pending.append(.backoffElapsed)
                case .send(.list(_, _)):
                    watchingFrom = nil
                    // Pages over a consistent snapshot: later changes do not show.
                    let snapshot = server.objects.sorted { $0.key < $1.key }
                    let version = String(server.version)
                    let pages = stride(from: 0, to: max(snapshot.count, 1), by: 3).map { Array(snapshot[$0..<min($0 + 3, snapshot.count)]) }
                    for (index, page) in pages.enumerated() {
                        let items = page.map { KubeObject(key: $0.key, resourceVersion: String($0.value)) }
                        pending.append(
                            .listPage(items: items, continueToken: index + 1 < pages.count ? "p\(index + 1)" : nil, resourceVersion: version))
                    }
                case .send(.watch(let version)):
                    let from = try #require(Int(version))
                    if let events = server.events(after: from) {
                        watchingFrom = from
                        pending += events.map { .event($0) }
                    } else {
                        gones += 1
                        pending.append(.gone)
                    }
                }
            }
        }

        for _ in 0..<300 {
            if !pending.isEmpty {
                try run(pending.removeFirst())
                continue
            }
            switch rng.next() % 10 {
            case 0...4:
                server.change(&rng)
                if watchingFrom != nil, let last = server.history.last { pending.append(.event(last.event)) }
            case 5: if watchingFrom != nil { pending.append(.watchEnded) }
            case 6: if watchingFrom != nil { pending.append(.failed("connection reset mid-chunk")) }
            case 7:
                // The last event delivered twice. (Versions are opaque, so an *older* event
                // cannot be told from a newer one: the API server never sends one, and the
                // driver drops what a closed stream still delivers.)
                if watchingFrom != nil, let last = server.history.last { pending.append(.event(last.event)) }
            case 8: if watchingFrom != nil { pending.append(.event(.bookmark(resourceVersion: String(server.version)))) }
            default:
                server.window = Int(rng.next() % 6) + 1  // compaction: older resume points get 410
            }
        }
        // Quiet: finish what is under way, end the watch, and let it resume once.
        var guardCount = 0
        while !pending.isEmpty && guardCount < 1000 {
            try run(pending.removeFirst())
            guardCount += 1
        }
        if watchingFrom != nil { try run(.watchEnded) }
        while !pending.isEmpty && guardCount < 2000 {
            try run(pending.removeFirst())
            guardCount += 1
        }
        #expect(store == server.objects.mapValues(String.init), "seed \(seed)")
        #expect(machine.lists == gones + 1, "a relist without a 410 (seed \(seed))")
    }
}

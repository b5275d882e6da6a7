import Synchronization
import Translator

/// Generates each proxy snapshot once per (view key, PushContext revision) and shares it: every
/// proxy with the same view at one revision gets the same snapshot and the same encoded bytes.
///
/// Generation is single-flight per view key: the first stream to need a revision generates it
/// while the others with that key wait for the result instead of generating it again, so a
/// publish costs one generation per distinct view, not one per stream. Different keys generate
/// independently. `generations` counts them (tests, benchmarks).
public final class SnapshotCache: Sendable {
    /// The latest snapshot of one view key; its lock is held while generating, which is what
    /// makes generation single-flight for the key.
    private final class Slot: Sendable {
        let snapshot = Mutex<ProxySnapshot?>(nil)
    }

    private let slots = Mutex<[ViewKey: Slot]>([:])
    private let generators: [any ResourceGenerator]
    private let generationCount = Atomic<Int>(0)

    public init(generators: [any ResourceGenerator] = Generators.all) {
        self.generators = generators
    }

    /// How many snapshots have been generated since the cache was made.
    public var generations: Int { generationCount.load(ordering: .relaxed) }

    /// The snapshot for `proxy` at `push`, generated on first use by any proxy with its view.
    /// When a newer revision is already cached (a stream read `current` just before a publish),
    /// that newer snapshot is returned: streams only ever want the latest.
    public func snapshot(for proxy: Proxy, push: PushContext) -> ProxySnapshot {
        let key = proxy.viewKey
        let slot = slots.withLock { slots in
            if let slot = slots[key] { return slot }
            let slot = Slot()
            slots[key] = slot
            return slot
        }
        return slot.snapshot.withLock { cached in
            if let cached, cached.revision >= push.revision { return cached }
            let snapshot = cached.map { ProxySnapshot(updating: $0, proxy: proxy, push: push, generators: generators) }
                ?? ProxySnapshot(proxy: proxy, push: push, generators: generators)
            generationCount.add(1, ordering: .relaxed)
            cached = snapshot
            return snapshot
        }
    }
}

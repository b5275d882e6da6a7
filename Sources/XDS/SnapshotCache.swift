import Synchronization
import Translator

/// Generates each proxy snapshot once per (view key, PushContext revision) and shares it: every
/// proxy with the same view at one revision gets the same snapshot and the same encoded bytes.
///
/// The key is computed from (proxy, push) — which Sidecar applies depends on the config — so a
/// proxy's key may change from one publish to the next. Generation is single-flight per key:
/// the first stream to need a revision generates it while the others with that key wait for
/// the result instead of generating it again, so a publish costs one generation per distinct
/// view, not one per stream. Different keys generate independently. `generations` counts them.
///
/// Slots of keys nobody asks for any more (a deleted Sidecar, an emptied namespace) are
/// dropped once the map reaches `sweepThreshold`: every slot not asked for at the newest
/// revision seen goes, and the threshold becomes twice what is left (at least the minimum),
/// so the map stays within a constant factor of the keys in use and sweeps are amortised.
/// A dropped key still in use regenerates in full on its next use, nothing worse.
public final class SnapshotCache: Sendable {
    /// The latest snapshot of one view key; its lock is held while generating, which is what
    /// makes generation single-flight for the key.
    private final class Slot: Sendable {
        let snapshot = Mutex<ProxySnapshot?>(nil)
        /// The newest revision the slot was asked for.
        let lastUsed = Atomic<Int64>(0)
    }

    private struct Slots {
        var byKey: [ViewKey: Slot] = [:]
        var sweepThreshold: Int
    }

    /// The smallest map size that triggers a sweep.
    public static let minimumSweepThreshold = 256

    private let slots: Mutex<Slots>
    private let generators: [any ResourceGenerator]
    private let generationCount = Atomic<Int>(0)
    private let minimumThreshold: Int

    /// A cache generating with `generators`; `sweepThreshold` is the map size at which unused
    /// slots are dropped (tests lower it).
    public init(generators: [any ResourceGenerator] = Generators.all, sweepThreshold: Int = SnapshotCache.minimumSweepThreshold) {
        self.generators = generators
        self.minimumThreshold = max(1, sweepThreshold)
        self.slots = Mutex(Slots(sweepThreshold: max(1, sweepThreshold)))
    }

    /// How many snapshots have been generated since the cache was made.
    public var generations: Int { generationCount.load(ordering: .relaxed) }

    /// How many view keys hold a slot (tests).
    public var slotCount: Int { slots.withLock { $0.byKey.count } }

    /// The snapshot for `proxy` at `push`, generated on first use by any proxy with its view.
    /// When a newer revision is already cached (a stream read `current` just before a publish),
    /// that newer snapshot is returned: streams only ever want the latest.
    public func snapshot(for proxy: Proxy, push: PushContext) -> ProxySnapshot {
        let key = push.viewKey(for: proxy)
        let slot = slots.withLock { slots in
            if let slot = slots.byKey[key] { return slot }
            if slots.byKey.count >= slots.sweepThreshold {
                slots.byKey = slots.byKey.filter { $0.value.lastUsed.load(ordering: .relaxed) >= push.revision }
                slots.sweepThreshold = max(minimumThreshold, 2 * slots.byKey.count)
            }
            let slot = Slot()
            slots.byKey[key] = slot
            return slot
        }
        _ = slot.lastUsed.max(push.revision, ordering: .relaxed)
        return slot.snapshot.withLock { cached in
            if let cached, cached.revision >= push.revision { return cached }
            let snapshot = cached.map { ProxySnapshot(updating: $0, key: key, push: push, generators: generators) }
                ?? ProxySnapshot(view: ProxyView(key: key, push: push), push: push, generators: generators)
            generationCount.add(1, ordering: .relaxed)
            cached = snapshot
            return snapshot
        }
    }
}

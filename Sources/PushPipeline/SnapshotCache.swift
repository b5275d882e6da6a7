import MeshModel
import Synchronization
import Translator

/// Generates each proxy snapshot once per (view key, PushContext revision and settings
/// generation) and shares it: every
/// proxy with the same view at one revision gets the same snapshot and the same encoded bytes.
///
/// The key is computed from (proxy, push) — which Sidecar applies depends on the config — so a
/// proxy's key may change from one publish to the next. Generation is single-flight per key:
/// the first stream to need a revision generates it; the others with that key suspend until it
/// is done (a state of the slot they await, not a lock: no thread is held while they wait), so
/// a publish costs one generation per distinct view, not one per stream. Different keys
/// generate independently. `generations` counts them. The generators of a key's kind come from
/// the `GeneratorTable`.
///
/// Slots of keys nobody asks for any more (a deleted Sidecar, an emptied namespace) are
/// dropped once the map reaches `sweepThreshold`: every slot not asked for at the newest
/// revision seen goes, and the threshold becomes twice what is left (at least the minimum),
/// so the map stays within a constant factor of the keys in use and sweeps are amortised.
/// A dropped key still in use regenerates in full on its next use, nothing worse.
public final class SnapshotCache: Sendable {
    /// The latest snapshot of one view key, or the generation under way and who awaits it.
    private final class Slot: Sendable {
        enum State {
            case empty
            case ready(ProxySnapshot)
            /// One caller generates `version`; `waiters` resume with its result.
            case generating(version: PushVersion, waiters: [CheckedContinuation<ProxySnapshot?, Never>])
        }

        let state = Mutex<State>(.empty)
        /// The newest revision the slot was asked for.
        let lastUsed = Atomic<Int64>(0)
    }

    /// A view key under one generation of the mesh settings: settings change without a store
    /// write (a reloaded mesh config, a fetched key set), so a snapshot made under other settings
    /// at the same revision must not be reused.
    private struct SlotKey: Hashable {
        var view: ViewKey
        var settingsGeneration: Int64
    }

    private struct Slots {
        var byKey: [SlotKey: Slot] = [:]
        var sweepThreshold: Int
    }

    /// What a caller does after looking at its slot.
    private enum Step {
        case done(ProxySnapshot)
        case generate(previous: ProxySnapshot?)
        case wait
    }

    /// The smallest map size that triggers a sweep.
    public static let minimumSweepThreshold = 256

    private let slots: Mutex<Slots>
    private let table: GeneratorTable
    private let generationCount = Atomic<Int>(0)
    private let minimumThreshold: Int

    /// A cache generating with `generators`; `sweepThreshold` is the map size at which unused
    /// slots are dropped (tests lower it).
    public init(generators: GeneratorTable, sweepThreshold: Int = SnapshotCache.minimumSweepThreshold) {
        self.table = generators
        self.minimumThreshold = max(1, sweepThreshold)
        self.slots = Mutex(Slots(sweepThreshold: max(1, sweepThreshold)))
    }

    /// How many snapshots have been generated since the cache was made.
    public var generations: Int { generationCount.load(ordering: .relaxed) }

    /// How many view keys hold a slot (tests).
    public var slotCount: Int { slots.withLock { $0.byKey.count } }

    /// Whether proxies of `kind` are served at all (the push server refuses the others).
    public func serves(_ kind: ProxyKind) -> Bool { table.serves(kind) }

    /// The snapshot for `proxy` at `push`, generated on first use by any proxy with its view.
    /// When a newer revision is already cached (a stream read `current` just before a publish),
    /// that newer snapshot is returned: streams only ever want the latest.
    public func snapshot(for proxy: Proxy, push: PushContext) async -> ProxySnapshot {
        let key = push.viewKey(for: proxy)
        let slot = self.slot(for: SlotKey(view: key, settingsGeneration: push.settings.generation), revision: push.revision)
        _ = slot.lastUsed.max(push.revision, ordering: .relaxed)
        while true {
            let step = slot.state.withLock { state -> Step in
                switch state {
                case .ready(let cached) where cached.version >= push.version:
                    return .done(cached)
                case .ready(let cached):
                    state = .generating(version: push.version, waiters: [])
                    return .generate(previous: cached)
                case .empty:
                    state = .generating(version: push.version, waiters: [])
                    return .generate(previous: nil)
                case .generating:
                    // Whatever revision is under way, its result comes first: a newer push
                    // generates from it once it lands (the loop looks again).
                    return .wait
                }
            }
            switch step {
            case .done(let snapshot):
                return snapshot
            case .generate(let previous):
                let generators = table.generators(for: key.kind)
                let snapshot =
                    previous.map { ProxySnapshot(updating: $0, key: key, push: push, generators: generators) }
                    ?? ProxySnapshot(view: ProxyView(key: key, push: push), push: push, generators: generators)
                generationCount.add(1, ordering: .relaxed)
                let waiters = slot.state.withLock { state -> [CheckedContinuation<ProxySnapshot?, Never>] in
                    guard case .generating(_, let waiters) = state else { return [] }
                    state = .ready(snapshot)
                    return waiters
                }
                for waiter in waiters { waiter.resume(returning: snapshot) }
                return snapshot
            case .wait:
                let landed = await withCheckedContinuation { (continuation: CheckedContinuation<ProxySnapshot?, Never>) in
                    let suspended = slot.state.withLock { state -> Bool in
                        guard case .generating(let version, var waiters) = state else { return false }
                        state = .empty  // releases the array, so appending does not copy it
                        waiters.append(continuation)
                        state = .generating(version: version, waiters: waiters)
                        return true
                    }
                    // It landed between the look and the wait: look again at once.
                    if !suspended { continuation.resume(returning: nil) }
                }
                if let landed, landed.version >= push.version { return landed }
            }
        }
    }

    /// The slot of `key`, made on first use; sweeps unused slots when the map is full.
    private func slot(for key: SlotKey, revision: Int64) -> Slot {
        slots.withLock { slots in
            if let slot = slots.byKey[key] { return slot }
            if slots.byKey.count >= slots.sweepThreshold {
                slots.byKey = slots.byKey.filter { $0.value.lastUsed.load(ordering: .relaxed) >= revision }
                slots.sweepThreshold = max(minimumThreshold, 2 * slots.byKey.count)
            }
            let slot = Slot()
            slots.byKey[key] = slot
            return slot
        }
    }
}

import Discovery
import Synchronization

/// The platform registry's (Kubernetes') services and endpoints as the push loop reads them,
/// shared by the registry that updates them and the push loop, which rebuilds when they change.
/// Each update bumps `PlatformServices.generation` and records what kind of change it was, so a
/// change that touched only endpoints (a pod turning ready) is pushed as EDS only. Thread-safe.
public final class PlatformRegistrySource: Sendable {
    /// What changed between two generations.
    public enum Change: Sendable, Hashable {
        /// Nothing.
        case none
        /// Only the endpoints of these hosts.
        case endpoints(Set<String>)
        /// Services themselves (added, removed, ports, selectors…): rebuild the registry.
        case services
    }

    private struct State {
        var current = PlatformServices.none
        /// The generation `pending` is counted from.
        var base: Int64 = 0
        var pending = Change.none
        /// Whether the platform registry holds its first complete state.
        var synced = false
    }

    private let state = Mutex(State())
    private let signal = ChangeSignal()

    /// An empty source (generation 0, not synced).
    public init() {}

    /// The services and endpoints now.
    public var current: PlatformServices { state.withLock { $0.current } }

    /// Whether the platform registry has published its first complete state: until then a push
    /// would remove every platform service proxies know, so the push loop waits for it.
    public var isSynced: Bool { state.withLock { $0.synced } }

    /// Publishes `services` (its generation is set here) with what changed since the last
    /// publish: `endpointHosts` when only those hosts' endpoints changed, nil when services did.
    /// Signals the push loop.
    public func publish(_ services: PlatformServices, endpointHosts: Set<String>?, synced: Bool) {
        state.withLock { state in
            var next = services
            next.generation = state.current.generation + 1
            state.current = next
            state.synced = state.synced || synced
            switch (state.pending, endpointHosts) {
            case (.services, _), (_, nil): state.pending = .services
            case (.none, let hosts?): state.pending = .endpoints(hosts)
            case (.endpoints(let earlier), let hosts?): state.pending = .endpoints(earlier.union(hosts))
            }
        }
        signal.signal()
    }

    /// The services now and what changed since generation `since` (the generation the caller's
    /// last context was built with); resets the record. A caller at any other generation than
    /// the one the record counts from gets `.services`: it must rebuild.
    public func take(since: Int64) -> (services: PlatformServices, change: Change) {
        state.withLock { state in
            let change: Change =
                if state.current.generation == since { .none } else if since == state.base { state.pending } else { .services }
            state.base = state.current.generation
            state.pending = .none
            return (state.current, change)
        }
    }

    /// A latest-only signal per publish; ends when the consumer stops.
    public func changes() -> AsyncStream<Void> {
        signal.changes()
    }
}

import PushPipeline
import Synchronization
import XDSCore

/// Bounds how many streams work out a push at once: take the snapshot for their view (generating
/// it if they are first), diff it against what the proxy holds and build the responses.
///
/// After a publish every stream wakes at once; unbounded, thousands would each hold a freshly
/// generated snapshot and a set of response messages at the same moment. With the throttle, at
/// most `limit` do, the rest wait in arrival order (suspended, not blocking a thread). Writing
/// the responses happens after the permit is returned, so a proxy that reads slowly waits on
/// its own HTTP/2 flow control and never holds a permit another proxy needs.
public final class PushThrottle: Sendable {
    private struct State {
        var available: Int
        /// Waiting streams in arrival order; `head` is the next to admit (a queue without
        /// O(n) removals at the front, compacted as it drains).
        var waiters: [CheckedContinuation<Void, Never>] = []
        var head = 0
        var inUse = 0
        var highWater = 0

        /// Takes a free permit (the caller checked there is one); always true.
        mutating func admit() -> Bool {
            available -= 1
            inUse += 1
            highWater = max(highWater, inUse)
            return true
        }
    }

    /// The most streams working out a push at once.
    public let limit: Int
    private let state: Mutex<State>

    /// A throttle admitting `limit` streams at once (at least one).
    public init(limit: Int) {
        self.limit = max(1, limit)
        state = Mutex(State(available: max(1, limit)))
    }

    /// The default: two per core, so both cores stay busy while a stream is between steps.
    public static func defaultLimit(cores: Int) -> Int { max(2, 2 * cores) }

    /// The most permits ever held at once (tests, benchmarks).
    public var highWater: Int { state.withLock { $0.highWater } }

    /// How many streams wait for a permit.
    var waiting: Int { state.withLock { $0.waiters.count - $0.head } }

    /// Runs `body` holding a permit; waits in arrival order for one when all are taken.
    public func withPermit<T>(_ body: () async throws -> T) async rethrows -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    func acquire() async {
        if state.withLock({ state in state.available > 0 && state.admit() }) { return }
        await withCheckedContinuation { continuation in
            let admitted = state.withLock { state -> Bool in
                guard state.available > 0 else {
                    state.waiters.append(continuation)
                    return false
                }
                return state.admit()
            }
            if admitted { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.head < state.waiters.count else {
                state.inUse -= 1
                state.available += 1
                return nil
            }
            // The permit passes straight to the longest waiter: inUse stays the same.
            let waiter = state.waiters[state.head]
            state.head += 1
            if state.head == state.waiters.count {
                state.waiters.removeAll(keepingCapacity: true)
                state.head = 0
            } else if state.head >= 1024 && state.head * 2 >= state.waiters.count {
                state.waiters.removeFirst(state.head)
                state.head = 0
            }
            return waiter
        }
        next?.resume()
    }
}

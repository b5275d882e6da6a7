import Synchronization

/// Bounds how many `/api/v1/events` streams are open at once, so dashboards left open (or a
/// script opening streams in a loop) cannot hold an unbounded number of tasks and sockets.
///
/// A stream holds a `Lease` for as long as it runs; the lease gives its slot back when released
/// or, should a response body never run, when it is deallocated.
final class EventStreamLimiter: Sendable {
    /// The most streams open at once.
    let limit: Int
    private let open = Atomic<Int>(0)

    /// A limiter allowing `limit` streams (at least one).
    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// How many streams hold a lease now.
    var count: Int { open.load(ordering: .relaxed) }

    /// A slot, or nil when `limit` streams are open.
    func acquire() -> Lease? {
        var current = open.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = open.compareExchange(expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged { return Lease(limiter: self) }
            current = original
        }
        return nil
    }

    fileprivate func giveBack() {
        open.subtract(1, ordering: .acquiringAndReleasing)
    }

    /// One open stream's slot; releasing it twice gives back one slot.
    final class Lease: Sendable {
        private let limiter: EventStreamLimiter
        private let released = Atomic<Bool>(false)

        fileprivate init(limiter: EventStreamLimiter) {
            self.limiter = limiter
        }

        /// Gives the slot back (once).
        func release() {
            if !released.exchange(true, ordering: .acquiringAndReleasing) { limiter.giveBack() }
        }

        deinit { release() }
    }
}

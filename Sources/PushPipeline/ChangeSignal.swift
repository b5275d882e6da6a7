import Synchronization

/// Latest-only change signals for any number of consumers: each consumer holds at most one
/// pending signal however far behind it falls, and reads the current state when it gets to it.
/// Thread-safe.
public final class ChangeSignal: Sendable {
    private struct State {
        var consumers: [Int: AsyncStream<Void>.Continuation] = [:]
        var next = 0
    }

    private let state = Mutex(State())

    /// A signal with no consumer yet.
    public init() {}

    /// How many consumers follow `changes()`.
    public var consumerCount: Int { state.withLock { $0.consumers.count } }

    /// Signals every consumer.
    public func signal() {
        let consumers = state.withLock { Array($0.consumers.values) }
        for consumer in consumers { consumer.yield() }
    }

    /// A signal per change, and one at once when `now` holds (asked after the consumer is
    /// registered, so a change in between is not missed); ends when the consumer stops iterating.
    public func changes(now: () -> Bool = { false }) -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state in
            let id = state.next
            state.next += 1
            state.consumers[id] = continuation
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.consumers.removeValue(forKey: id) }
        }
        if now() { continuation.yield() }
        return stream
    }
}

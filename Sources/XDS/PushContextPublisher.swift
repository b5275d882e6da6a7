import Synchronization
import Translator

/// Holds the current `PushContext` and hands each new one to every stream.
///
/// Publishing swaps a reference under a lock; subscribers get `bufferingNewest(1)` streams
/// because a stream that falls behind only needs the latest context.
public final class PushContextPublisher: Sendable {
    private struct State {
        var current: PushContext?
        var subscribers: [Int: AsyncStream<PushContext>.Continuation] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// The latest context, or nil before the first build.
    public var current: PushContext? { state.withLock { $0.current } }

    /// Publishes `context` to every subscriber.
    public func publish(_ context: PushContext) {
        let subscribers = state.withLock { state in
            state.current = context
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.yield(context) }
    }

    /// A stream of contexts that starts with the current one (if any); ends when the consumer stops.
    public func subscribe() -> AsyncStream<PushContext> {
        let (stream, continuation) = AsyncStream<PushContext>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.subscribers[id] = continuation
            if let current = state.current { continuation.yield(current) }
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }
}

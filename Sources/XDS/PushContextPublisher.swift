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
        var wakers: [Int: AsyncStream<Void>.Continuation] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// The latest context, or nil before the first build.
    public var current: PushContext? { state.withLock { $0.current } }

    /// Publishes `context` to every subscriber.
    public func publish(_ context: PushContext) {
        let (subscribers, wakers) = state.withLock { state in
            state.current = context
            return (Array(state.subscribers.values), Array(state.wakers.values))
        }
        for subscriber in subscribers { subscriber.yield(context) }
        for waker in wakers { waker.yield() }
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

    /// A signal per publish (and one at once if a context exists), for consumers that read
    /// `current` when they get to it: however far behind a consumer falls, it holds at most one
    /// pending signal and never an older context. Ends when the consumer stops.
    public func changes() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.wakers[id] = continuation
            if state.current != nil { continuation.yield() }
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.wakers.removeValue(forKey: id) }
        }
        return stream
    }
}

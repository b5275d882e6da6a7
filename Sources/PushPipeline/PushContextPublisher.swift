import Synchronization
import Translator

/// Holds the current `PushContext` and tells every stream when a new one is published.
///
/// Publishing swaps a reference under a lock; streams get a latest-only signal and read
/// `current` when they get to it, so a stream that falls behind never holds old contexts.
public final class PushContextPublisher: Sendable {
    private struct State {
        var current: PushContext?
        var wakers: [Int: AsyncStream<Void>.Continuation] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// The latest context, or nil before the first build.
    public var current: PushContext? { state.withLock { $0.current } }

    /// Makes `context` current and signals every stream.
    public func publish(_ context: PushContext) {
        let wakers = state.withLock { state in
            state.current = context
            return Array(state.wakers.values)
        }
        for waker in wakers { waker.yield() }
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

import Synchronization
import Translator

/// Holds the current `PushContext` and tells every stream when a new one is published.
///
/// Publishing swaps a reference under a lock; streams get a latest-only signal and read
/// `current` when they get to it, so a stream that falls behind never holds old contexts.
public final class PushContextPublisher: Sendable {
    private let state = Mutex<PushContext?>(nil)
    private let signal = ChangeSignal()

    public init() {}

    /// The latest context, or nil before the first build.
    public var current: PushContext? { state.withLock { $0 } }

    /// Makes `context` current and signals every stream.
    public func publish(_ context: PushContext) {
        state.withLock { $0 = context }
        signal.signal()
    }

    /// A signal per publish (and one at once if a context exists), for consumers that read
    /// `current` when they get to it: however far behind a consumer falls, it holds at most one
    /// pending signal and never an older context. Ends when the consumer stops.
    public func changes() -> AsyncStream<Void> {
        // `current` is read after registering, so a publish in between is never missed (at
        // worst signalled twice, which a latest-only consumer does not notice).
        signal.changes { self.current != nil }
    }
}

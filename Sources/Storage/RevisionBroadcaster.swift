import Synchronization

/// Fans a store's new revisions out to every subscriber.
///
/// Each subscriber gets a `bufferingNewest(1)` stream: only the latest revision matters to a
/// reader, and a slow reader must never hold back a writer.
public final class RevisionBroadcaster: Sendable {
    private let continuations = Mutex<[Int: AsyncStream<Int64>.Continuation]>([:])
    private let nextID = Atomic<Int>(0)

    /// Creates a broadcaster with no subscribers.
    public init() {}

    /// A new subscription; it ends when the consumer stops iterating.
    public func subscribe() -> AsyncStream<Int64> {
        let (stream, continuation) = AsyncStream<Int64>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = nextID.add(1, ordering: .relaxed).newValue
        continuations.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            _ = self?.continuations.withLock { $0.removeValue(forKey: id) }
        }
        return stream
    }

    /// Tells every subscriber about `revision`.
    public func publish(_ revision: Int64) {
        let all = continuations.withLock { Array($0.values) }
        for continuation in all { continuation.yield(revision) }
    }
}

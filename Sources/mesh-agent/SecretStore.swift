import Synchronization

/// The secrets the agent currently serves, shared between the renewal loop (which publishes a
/// new generation after each issuance) and every SDS stream (which pushes it).
final class SecretStore: Sendable {
    private struct State {
        var current: WorkloadSecrets?
        var subscribers: [UInt64: AsyncStream<WorkloadSecrets>.Continuation] = [:]
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    init() {}

    /// The generation being served, nil before the first certificate.
    var current: WorkloadSecrets? { state.withLock { $0.current } }

    /// Makes `secrets` current and hands it to every stream.
    func publish(_ secrets: WorkloadSecrets) {
        state.withLock { state in
            state.current = secrets
            // Inside the lock, so a stream subscribing concurrently sees generations in order;
            // yield never blocks (the buffer keeps only the newest).
            for continuation in state.subscribers.values { continuation.yield(secrets) }
        }
    }

    /// The current generation (when there is one) and then every later one. A slow stream
    /// skips intermediate generations: only the newest certificate matters.
    func changes() -> AsyncStream<WorkloadSecrets> {
        let (stream, continuation) = AsyncStream.makeStream(of: WorkloadSecrets.self, bufferingPolicy: .bufferingNewest(1))
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

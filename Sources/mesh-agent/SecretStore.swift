import Synchronization

/// The secrets the agent currently serves, shared between the renewal loop (which publishes a
/// new generation after each issuance), the file watcher (the gateway's `file-cert:` and
/// `file-root:` secrets) and every SDS stream (which pushes each generation).
final class SecretStore: Sendable {
    private struct State {
        var workload: WorkloadSecrets?
        var files: [String: WorkloadSecrets.Entry] = [:]
        var subscribers: [UInt64: AsyncStream<WorkloadSecrets>.Continuation] = [:]
        var nextID: UInt64 = 0
        /// Bumped at every change, stamped on the generation served.
        var sequence: UInt64 = 0

        /// What is served: nothing before the first certificate, then it and the file secrets.
        var current: WorkloadSecrets? {
            guard var current = workload?.adding(files) else { return nil }
            current.sequence = sequence
            return current
        }

        /// Hands the current generation to every stream. Inside the lock, so a stream
        /// subscribing concurrently sees generations in order; yield never blocks (the buffer
        /// keeps only the newest).
        func broadcast() {
            guard let current else { return }
            for continuation in subscribers.values { continuation.yield(current) }
        }
    }

    private let state = Mutex(State())

    init() {}

    /// The generation being served, nil before the first certificate.
    var current: WorkloadSecrets? { state.withLock { $0.current } }

    /// The number of the latest change: cheaper than `current` for telling whether one happened.
    var sequence: UInt64 { state.withLock { $0.sequence } }

    /// Makes `secrets` the workload's current secrets and hands the generation to every stream.
    func publish(_ secrets: WorkloadSecrets) {
        state.withLock { state in
            state.workload = secrets
            state.sequence += 1
            state.broadcast()
        }
    }

    /// Replaces the secrets read from files and hands the generation to every stream.
    func publishFiles(_ entries: [String: WorkloadSecrets.Entry]) {
        state.withLock { state in
            guard state.files != entries else { return }
            state.files = entries
            state.sequence += 1
            state.broadcast()
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

import Synchronization

/// What the push side knows about its own health, for `/ready` and `/healthz`.
///
/// meshd is ready once it has built its first configuration; after that it stays ready (proxies
/// keep being served from the last good configuration) and lists any degradation instead: a store
/// that cannot be read, stored config left out of pushes. Thread-safe; cheap to read.
public final class ServingHealth: Sendable {
    /// One reason meshd is serving, but not as well as it should.
    public struct Degradation: Sendable, Hashable, Codable {
        /// A stable identifier (`store`, `invalid-config`), one entry per identifier.
        public var id: String
        /// What is wrong, for an operator.
        public var message: String

        /// Creates a degradation.
        public init(id: String, message: String) {
            self.id = id
            self.message = message
        }
    }

    private struct State {
        var built = false
        var degradations: [String: Degradation] = [:]
    }

    private let state = Mutex(State())

    /// A health record with nothing built yet.
    public init() {}

    /// Whether the first configuration has been built (readiness never goes back to false).
    public var hasBuiltConfiguration: Bool { state.withLock { $0.built } }

    /// The current degradations, sorted by id.
    public var degradations: [Degradation] {
        state.withLock { $0.degradations.values.sorted { $0.id < $1.id } }
    }

    /// Records that a configuration has been built and published.
    public func markBuilt() {
        state.withLock { $0.built = true }
    }

    /// Sets (or, with `nil`, clears) the degradation named `id`.
    public func set(_ id: String, _ message: String?) {
        state.withLock { state in
            if let message {
                state.degradations[id] = Degradation(id: id, message: message)
            } else {
                state.degradations.removeValue(forKey: id)
            }
        }
    }
}

import Synchronization
import Translator

/// The push loop's `ConfigIndex`, shared read-only with the write path: an apply checks its
/// prospective configuration on a copy of the typed index (caught up with the store's keyed
/// feed) instead of reading and re-parsing the whole store. Thread-safe; a read is an O(1)
/// copy-on-write copy.
public final class SharedConfigIndex: Sendable {
    private let state: Mutex<ConfigIndex>

    /// An empty index building contexts with `settings`; the push loop fills it on its first build.
    public init(settings: MeshSettings = MeshSettings()) {
        state = Mutex(ConfigIndex(settings: settings))
    }

    /// A copy of the index as the push loop last left it.
    public func read() -> ConfigIndex {
        state.withLock { $0 }
    }

    /// Runs `body` on the index under the lock (the push loop's updates).
    public func update<T: Sendable>(_ body: (inout ConfigIndex) -> T) -> T {
        state.withLock { body(&$0) }
    }
}

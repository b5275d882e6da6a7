import Synchronization
import Translator

/// The mesh settings meshd runs with now, shared by what changes them without a store write —
/// the mesh config watcher (`--mesh-config`) and the JWKS resolver — and the push loop, which
/// rebuilds when they change. Each change bumps `MeshSettings.generation`, so snapshots made
/// under the old settings are not reused at the same store revision. Thread-safe.
public final class MeshSettingsSource: Sendable {
    private let state: Mutex<MeshSettings>
    private let signal = ChangeSignal()

    /// A source starting with `initial` (its generation as given, normally 0).
    public init(_ initial: MeshSettings = MeshSettings()) {
        state = Mutex(initial)
    }

    /// The settings now.
    public var current: MeshSettings { state.withLock { $0 } }

    /// Applies `body`; when it changed anything, bumps the generation and signals every consumer.
    /// Returns whether the settings changed.
    @discardableResult
    public func update(_ body: (inout MeshSettings) -> Void) -> Bool {
        let changed = state.withLock { settings in
            var next = settings
            body(&next)
            next.generation = settings.generation
            guard next != settings else { return false }
            next.generation += 1
            settings = next
            return true
        }
        if changed { signal.signal() }
        return changed
    }

    /// A latest-only signal per change; ends when the consumer stops.
    public func changes() -> AsyncStream<Void> {
        signal.changes()
    }
}

import MeshModel
import Storage
import Translator

/// Turns a store snapshot into a `PushContext` in one go (the apply path's prospective check);
/// the push loop keeps a `ConfigIndex` instead, so it re-validates only what changed.
public enum PushContextFactory {
    /// Builds the context for `snapshot`. A stored resource that no longer validates (written by an
    /// older meshd with looser rules) is left out and listed in `PushContext.invalid` rather than
    /// failing every push; the caller reports it (log, metric, `/debug`, readiness body).
    public static func build(from snapshot: ConfigSnapshot, settings: MeshSettings = MeshSettings()) -> PushContext {
        var index = ConfigIndex(settings: settings)
        index.load(snapshot)
        return index.context()
    }
}

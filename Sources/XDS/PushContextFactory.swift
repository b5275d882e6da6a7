import MeshModel
import Storage
import Translator

/// Turns a store snapshot into a `PushContext`: validates each resource into its typed form and
/// hands the result to `PushContextBuilder`.
public enum PushContextFactory {
    /// Builds the context for `snapshot`. A stored resource that no longer validates (written by an
    /// older meshd with looser rules) is left out and listed in `PushContext.invalid` rather than
    /// failing every push; the caller reports it (log, metric, `/debug`, readiness body).
    public static func build(from snapshot: ConfigSnapshot) -> PushContext {
        var inputs: [PushContextBuilder.Input] = []
        var skipped: [ConfigWarning] = []
        for stored in snapshot.configs {
            do {
                let typed = try ConfigValidator.validate(stored.resource)
                inputs.append(.init(key: stored.key, createdRevision: stored.createdRevision,
                                    annotations: stored.resource.annotations, config: typed))
            } catch {
                skipped.append(ConfigWarning(key: stored.key, field: error.field ?? "spec",
                                             message: "left out of pushes: \(error.message)"))
            }
        }
        return PushContextBuilder.build(revision: snapshot.revision, inputs: inputs, invalid: skipped)
    }
}

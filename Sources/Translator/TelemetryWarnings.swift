import Discovery
import MeshModel

/// Warnings about Telemetries that depend on the mesh config and the registry (so the model
/// cannot give them on its own): a provider that cannot be built for the use it is named for (not
/// in the mesh config, of another kind, its service not in the registry), which Envoy proxies
/// then go without, as istiod leaves it out; and a second namespace-wide Telemetry, which istiod
/// ignores.
enum TelemetryWarnings {
    static func warnings(_ telemetries: TelemetryIndex, settings: MeshSettings, registry: RegistrySnapshot) -> [ConfigWarning] {
        var warnings: [ConfigWarning] = []
        for entry in telemetries.all {
            let spec = entry.spec
            for (index, logging) in spec.accessLogging.enumerated() {
                for (position, name) in logging.providers.enumerated() {
                    guard let problem = TelemetryFilters.problem(provider: name, forTracing: false, settings: settings, registry: registry)
                    else { continue }
                    warnings.append(
                        ConfigWarning(
                            key: entry.key, field: "spec.accessLogging[\(index)].providers[\(position)].name",
                            message: "\(problem): Envoy proxies write no access log for it"))
                }
            }
            for (index, tracing) in spec.tracing.enumerated() {
                guard let name = tracing.providers.first,
                    let problem = TelemetryFilters.problem(provider: name, forTracing: true, settings: settings, registry: registry)
                else { continue }
                warnings.append(
                    ConfigWarning(
                        key: entry.key, field: "spec.tracing[\(index)].providers[0].name",
                        message: "\(problem): Envoy proxies this Telemetry selects are not traced"))
            }
            if (spec.selector ?? [:]).isEmpty, !spec.hasTargetRef, let winner = telemetries.namespaceWide(entry.key.namespace),
                winner.key != entry.key
            {
                warnings.append(
                    ConfigWarning(
                        key: entry.key, field: "spec",
                        message: "namespace \(entry.key.namespace) already has the namespace-wide Telemetry \(winner.key.name); this one is ignored"))
            }
        }
        return warnings
    }
}

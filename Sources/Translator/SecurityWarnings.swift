import Discovery
import MeshModel

/// Warnings about security policies that depend on the mesh config and the registry (so the
/// model cannot give them on its own): a CUSTOM policy whose provider cannot be called, a
/// RequestAuthentication whose `jwksUri` meshd has no keys from yet.
enum SecurityWarnings {
    static func warnings(
        _ authorization: AuthorizationIndex, _ authentication: RequestAuthenticationIndex, settings: MeshSettings, registry: RegistrySnapshot
    ) -> [ConfigWarning] {
        var warnings: [ConfigWarning] = []
        for entry in authorization.all where entry.spec.action == .custom {
            let name = entry.spec.provider ?? ""
            if let problem = ExtAuthzFilters.problem(provider: name, settings: settings, registry: registry) {
                warnings.append(
                    ConfigWarning(
                        key: entry.key, field: "spec.provider.name",
                        message: "\(problem): Envoy proxies deny the requests this policy's rules select (403) instead of calling it"))
            }
        }
        for entry in authentication.all {
            for (index, rule) in entry.spec.jwtRules.enumerated() {
                guard let uri = rule.fetchedURI, settings.fetchedKeySets[uri] == nil else { continue }
                warnings.append(
                    ConfigWarning(
                        key: entry.key, field: "spec.jwtRules[\(index)].jwksUri",
                        message:
                            "meshd holds no keys from \(uri) yet: tokens of this issuer are refused (401) until a fetch succeeds (see /debug/jwks)"))
            }
        }
        return warnings
    }
}

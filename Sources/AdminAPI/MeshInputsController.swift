import Foundation
import Hummingbird
import MeshInputs
import MeshModel
import Translator

/// `/debug/mesh` (istiod's name): the mesh config in force, where it came from and what of it
/// meshd does not act on; `/debug/jwks`: every `jwksUri` meshd fetches, with its keys and errors.
struct MeshInputsController: Sendable {
    let dependencies: AdminDependencies

    /// The answer of `/debug/mesh` without a mesh config file: the settings from flags.
    struct Defaults: Codable {
        var path: String?
        var effective: MeshConfigWatcher.Effective
        var generation: Int64
    }

    func register(on router: Router<AdminRequestContext>) {
        let inputs = dependencies.meshInputs
        let generators = dependencies.generators
        router.get("/debug/mesh") { _, _ -> Response in
            let generation = inputs?.settings.current.generation ?? 0
            if let watcher = inputs?.meshConfig {
                var value = try Self.json(watcher.status)
                if case .object(var members) = value {
                    members["generation"] = .number(Double(generation))
                    value = .object(members)
                }
                return JSONResponse.make(value)
            }
            let settings = inputs?.settings.current ?? MeshSettings()
            let effective = MeshConfigWatcher.Effective(
                rootNamespace: settings.rootNamespace, trustDomain: generators.trustDomain, extensionProviders: [])
            return JSONResponse.make(try Self.json(Defaults(path: nil, effective: effective, generation: generation)))
        }
        router.get("/debug/jwks") { _, _ -> Response in
            JSONResponse.make(try Self.json(inputs?.jwks?.statuses ?? [JWKSResolver.Status]()))
        }
    }

    /// A Codable value as the admin API's JSON.
    static func json<T: Encodable>(_ value: T) throws -> JSONValue {
        let data = try JSONEncoder().encode(value)
        return try JSONValue.parse(json: String(decoding: data, as: UTF8.self))
    }
}

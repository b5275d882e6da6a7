import MeshModel
import Storage
import XDS

/// The one write path for config: parse, validate every document, then apply all in one store
/// transaction — so a request with one bad document changes nothing.
struct ConfigWriter: Sendable {
    let store: any ConfigStore

    /// Applies parsed, validated resources and returns the JSON answer (results and warnings).
    func apply(_ resources: [ConfigResource]) async throws -> JSONValue {
        for resource in resources { _ = try ConfigValidator.validate(resource) }
        let outcome = try await store.apply(resources)
        // Dangling references are accepted (apply order must not matter) but reported.
        let context = PushContextFactory.build(from: try await store.snapshot())
        let keys = Set(resources.map(\.key))
        let warnings = context.warnings.filter { keys.contains($0.key) }.map { JSONValue.string($0.description) }
        return answer(outcome, extra: ["warnings": .array(warnings)])
    }

    /// Deletes keys and returns the JSON answer (missing keys are reported as `notFound`).
    func delete(_ keys: [ConfigKey]) async throws -> JSONValue {
        answer(try await store.delete(keys), extra: [:])
    }

    /// Deletes one resource named by a URL path; a missing one is a 404.
    func deleteOne(_ key: ConfigKey) async throws -> JSONValue {
        let outcome = try await store.delete([key])
        guard outcome.changedAnything else { throw AdminError.notFound("\(key)") }
        return answer(outcome, extra: [:])
    }

    private func answer(_ outcome: ChangeOutcome, extra: [String: JSONValue]) -> JSONValue {
        let results = outcome.results.map { result -> JSONValue in
            .object([
                "kind": .string(result.key.kind.rawValue), "namespace": .string(result.key.namespace),
                "name": .string(result.key.name), "action": .string(result.action.rawValue),
            ])
        }
        return .object(extra.merging(["revision": .number(Double(outcome.revision)), "results": .array(results)]) { a, _ in a })
    }
}

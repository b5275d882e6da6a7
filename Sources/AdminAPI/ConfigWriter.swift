import MeshModel
import Storage
import Translator
import XDS

/// The one write path for config: parse, validate every document, then apply all in one store
/// transaction — so a request with one bad document changes nothing.
struct ConfigWriter: Sendable {
    let store: any ConfigStore
    /// The push loop's typed index: the prospective configuration is built on a copy of it,
    /// caught up with the store's keyed feed, so an apply re-parses only what it brings.
    let index: SharedConfigIndex
    /// The push loop's latest context: its registry is reused when the apply brings no
    /// ServiceEntry or WorkloadEntry, so a routing apply does not recompute every endpoint.
    let publisher: PushContextPublisher
    /// Connected proxies, whose impact a dry run reports (none when nil).
    var statuses: ProxyStatusRegistry? = nil
    /// The push server's generators, which a dry run's impact generates with.
    var generators: [any ResourceGenerator] = Generators.all

    /// Applies parsed, validated resources and returns the JSON answer (results and warnings).
    ///
    /// The configuration as it will be after the apply is built once, before anything is
    /// written: rules that span resources (endpoint weights of the WorkloadEntries a
    /// ServiceEntry selects must add up within uint32) are checked there, so a refused apply
    /// changes nothing, and the same build yields the warnings of the answer.
    ///
    /// With `dryRun`, everything up to the write is the same (so are its 4xx and warnings);
    /// then the answer is planned and the impact worked out instead of writing.
    func apply(_ resources: [ConfigResource], dryRun: DryRunRequest? = nil) async throws -> JSONValue {
        var notHonoured: [JSONValue] = []
        var validated: [(resource: ConfigResource, config: TypedConfig)] = []
        for resource in resources {
            let (config, fields, limits) = try ConfigValidator.validateForWrite(resource)
            validated.append((resource, config))
            notHonoured += fields.map { .string("\(resource.key): \($0.path): \(IstioSchema.notHonouredMessage)") }
            // Said whether or not such a client is connected: the YAML is what is being reviewed.
            notHonoured += limits.map { .string("\(resource.key): \($0.path): \($0.message)") }
        }
        var prospective = index.read()
        if let known = prospective.revision, let delta = try await store.delta(after: known) {
            prospective.apply(delta)
        } else {
            prospective.load(try await store.snapshot())
        }
        let stored = prospective
        prospective.stage(validated, revision: (prospective.revision ?? 0) + 1)
        let context = prospective.context(reusing: publisher.current)
        let keys = Set(resources.map(\.key))
        try Self.checkWeights(context, applied: resources.map(\.key))
        // Dangling references are accepted (apply order must not matter) but reported.
        let warnings = context.warnings.filter { keys.contains($0.key) }.map { JSONValue.string($0.description) } + notHonoured
        if let dryRun {
            return try await dryRunAnswer(resources, request: dryRun, stored: stored, prospective: context, warnings: warnings)
        }
        let outcome = try await store.apply(resources)
        return answer(outcome, extra: ["warnings": .array(warnings)])
    }

    /// Refuses an apply that makes a service's endpoint weights add up past uint32, naming the
    /// first applied resource involved.
    private static func checkWeights(_ context: PushContext, applied: [ConfigKey]) throws(MeshModelError) {
        for host in context.registry.weightOverflows.keys.sorted() {
            guard let overflow = context.registry.weightOverflows[host] else { continue }
            let involved = Set([overflow.service] + overflow.workloads)
            guard let key = applied.first(where: involved.contains) else { continue }
            throw MeshModelError(
                code: .invalid, resource: key.description,
                field: key.kind == .workloadEntry ? "spec.weight" : "spec.workloadSelector",
                message: "the endpoint weights of service \(host) (\(overflow.workloads.count) WorkloadEntries selected by \(overflow.service)) would add up to more than \(UInt32.max)")
        }
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

    func answer(_ outcome: ChangeOutcome, extra: [String: JSONValue]) -> JSONValue {
        let results = outcome.results.map { result -> JSONValue in
            .object([
                "kind": .string(result.key.kind.rawValue), "namespace": .string(result.key.namespace),
                "name": .string(result.key.name), "action": .string(result.action.rawValue),
            ])
        }
        return .object(extra.merging(["revision": .number(Double(outcome.revision)), "results": .array(results)]) { a, _ in a })
    }
}

import MeshModel
import PushPipeline
import Storage
import Translator
import XDSCore

/// The one write path for config: parse, validate every document, then apply all in one store
/// transaction — so a request with one bad document changes nothing. Rollbacks take the same
/// path: validated, checked and pushed like an apply.
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
    /// The push server's generator table, which a dry run's impact generates with.
    let generators: GeneratorTable
    /// The mesh settings and JWKS resolver: an applied RequestAuthentication's `jwksUri`s are
    /// fetched before the answer, which says when one cannot be had.
    var meshInputs: AdminDependencies.MeshInputsAccess? = nil

    /// The writer every admin endpoint uses: the store, the push side's views and, for dry runs,
    /// the connected proxies and the push server's generators. One initializer, so no endpoint
    /// can end up with a writer whose dry run sees no proxies.
    init(_ dependencies: AdminDependencies) {
        self.init(
            store: dependencies.store, index: dependencies.configIndex, publisher: dependencies.publisher,
            statuses: dependencies.statuses, generators: dependencies.generators)
        meshInputs = dependencies.meshInputs
    }

    init(
        store: any ConfigStore, index: SharedConfigIndex, publisher: PushContextPublisher,
        statuses: ProxyStatusRegistry? = nil, generators: GeneratorTable
    ) {
        self.store = store
        self.index = index
        self.publisher = publisher
        self.statuses = statuses
        self.generators = generators
    }

    /// Applies parsed documents and returns the JSON answer (results and warnings). A document
    /// carrying `metadata.resourceVersion` is written only if the stored resource is still at
    /// that revision (409 `conflict` otherwise, nothing written).
    ///
    /// With `dryRun`, everything up to the write is the same (so are its 4xx, 409 and warnings);
    /// then the answer is planned and the impact worked out instead of writing.
    func apply(_ documents: [ConfigDocument], actor: String, dryRun: DryRunRequest? = nil) async throws -> JSONValue {
        for document in documents where !document.resource.key.kind.isAppliedAsDocument {
            throw Self.secretThroughSecretsAPI(document.resource.key)
        }
        var puts = documents.map { ConfigWrite.Put($0.resource, expected: $0.resourceVersion.map { .revision($0) }) }
        for index in puts.indices where puts[index].resource.key.kind.hasStatus {
            puts[index].resource.status = try await carriedStatus(for: puts[index].resource)
        }
        return try await commit(ConfigWrite(puts: puts, metadata: ChangeMetadata(actor: actor, operation: .apply)), dryRun: dryRun)
    }

    /// The status an apply of `resource` keeps: a status is meshd's, never the document's, so
    /// an apply of an unchanged spec keeps the stored one (a re-applied file changes nothing);
    /// a changed spec starts afresh, except while a canary is running, when it is refused.
    private func carriedStatus(for resource: ConfigResource) async throws -> JSONValue? {
        guard let stored = try await store.get(resource.key), let status = stored.resource.status else { return nil }
        if stored.resource.spec == resource.spec { return status }
        // A spec that is wrong is answered as wrong first, whatever the canary is doing.
        _ = try ConfigValidator.validateForWrite(resource)
        if let phase = status["phase"]?.stringValue.flatMap(CanaryStatus.Phase.init(rawValue:)), !phase.isFinal {
            throw AdminError(
                code: "conflict", status: .conflict,
                message:
                    "the canary is \(phase.rawValue): its spec cannot change until it ends (meshctl canary abort \(resource.key.name) -n \(resource.key.namespace), or promote)",
                resource: resource.key.description, field: "spec")
        }
        return nil
    }

    /// Commits a write meshd makes on its own (a canary's step): the same checks as an apply,
    /// then the write; the answer is an apply's. With `dryRun`, an apply's dry run.
    func commitOwn(_ write: ConfigWrite, dryRun: DryRunRequest? = nil) async throws -> JSONValue {
        try await commit(write, dryRun: dryRun)
    }

    /// Writes one credential's `Secret` resource, its material (already in the vault) staged in
    /// the prospective build so the answer's warnings are about the real credential; `warnings`
    /// (the certificate's own, such as a near expiry) join them.
    func applySecret(_ resource: ConfigResource, material: CredentialMaterial, warnings: [String], actor: String) async throws -> JSONValue {
        try await commit(
            ConfigWrite(puts: [ConfigWrite.Put(resource)], metadata: ChangeMetadata(actor: actor, operation: .apply)), material: [material],
            extraWarnings: warnings)
    }

    /// Deletes one credential's `Secret` resource (the secrets API, which then prunes its
    /// material); a missing one is a 404. `warnings` go in the answer.
    func deleteSecret(_ key: ConfigKey, warnings: [String], actor: String) async throws -> JSONValue {
        try await deleteExisting(key, actor: actor, warnings: warnings)
    }

    /// The refusal of a `Secret` written as a config document: its key material must be
    /// checked and vaulted, which only the secrets API does.
    static func secretThroughSecretsAPI(_ key: ConfigKey) -> AdminError {
        AdminError(
            code: "invalid", status: .unprocessableContent,
            message:
                "\(key): Secrets are created and deleted with `meshctl create secret tls` / `meshctl delete secret` (the /api/v1/secrets API), not as config documents",
            field: "kind")
    }

    /// Applies resources without expectations (the registry's writes).
    func apply(_ resources: [ConfigResource], actor: String) async throws -> JSONValue {
        try await apply(resources.map { ConfigDocument(resource: $0) }, actor: actor)
    }

    /// Restores the configuration as it was right after `revision`, as one new revision; the
    /// answer is an apply's plus `rolledBackTo`. Nothing to restore answers the current
    /// revision with every resource changed since `unchanged`. With `dryRun`, the rollback is
    /// worked out and checked exactly so, and answered as an apply's dry run: what it would do
    /// and which connected proxies it would reach, with nothing written.
    func rollback(to revision: Int64, actor: String, dryRun: DryRunRequest? = nil) async throws -> JSONValue {
        let window = try await store.historyWindow(after: revision)
        let write = try HistoryReplay.rollback(to: revision, in: window, actor: actor)
        let extra: [String: JSONValue] = ["rolledBackTo": .number(Double(revision))]
        guard !write.puts.isEmpty || !write.deletes.isEmpty else {
            let touched = Set(window.records.flatMap { $0.changes.map(\.key) }).sorted()
            let outcome = ChangeOutcome(revision: window.snapshot.revision, results: touched.map { .init(key: $0, action: .unchanged) })
            var nothing = extra.merging(["warnings": .array([])]) { a, _ in a }
            if dryRun != nil { nothing.merge(["dryRun": .bool(true), "impact": .array([])]) { a, _ in a } }
            return answer(outcome, extra: nothing)
        }
        return try await commit(write, extra: extra, dryRun: dryRun)
    }

    /// Validates `write`'s puts, builds the configuration as it will be after it — once, before
    /// anything is written: rules that span resources (endpoint weights of the WorkloadEntries
    /// a ServiceEntry selects must add up within uint32) are checked there, so a refused write
    /// changes nothing, and the same build yields the answer's warnings — then commits it.
    private func commit(
        _ write: ConfigWrite, extra: [String: JSONValue] = [:], dryRun: DryRunRequest? = nil, material: [CredentialMaterial] = [],
        extraWarnings: [String] = []
    ) async throws -> JSONValue {
        let checked = try await check(write, material: material, extraWarnings: extraWarnings)
        if let dryRun {
            return try await dryRunAnswer(
                write, request: dryRun, stored: checked.stored, prospective: checked.context, warnings: checked.warnings, extra: extra)
        }
        let outcome = try await store.write(write)
        return answer(outcome, extra: extra.merging(["warnings": .array(checked.warnings)]) { a, _ in a })
    }

    /// Every check an apply of `documents` makes, and its warnings, with nothing written: what
    /// the validating admission webhook asks of an object `kubectl apply` is about to store.
    func review(_ documents: [ConfigDocument]) async throws -> [String] {
        let puts = documents.map { ConfigWrite.Put($0.resource) }
        let checked = try await check(ConfigWrite(puts: puts, metadata: ChangeMetadata(actor: systemActor, operation: .apply)))
        return checked.warnings.compactMap(\.stringValue)
    }

    /// Validates `write`'s puts and builds the configuration as it will be after it; the
    /// configuration as stored (`stored`), the prospective context and the answer's warnings.
    private func check(
        _ write: ConfigWrite, material: [CredentialMaterial] = [], extraWarnings: [String] = []
    ) async throws -> (stored: ConfigIndex, context: PushContext, warnings: [JSONValue]) {
        var notHonoured: [JSONValue] = []
        var validated: [(resource: ConfigResource, config: TypedConfig)] = []
        for resource in write.puts.map(\.resource) {
            let (config, fields, limits) = try ConfigValidator.validateForWrite(resource)
            validated.append((resource, config))
            notHonoured += fields.map { .string("\(resource.key): \($0.path): \(IstioSchema.notHonouredMessage)") }
            // Said whether or not such a client is connected: the YAML is what is being reviewed.
            notHonoured += limits.map { .string("\(resource.key): \($0.path): \($0.message)") }
        }
        let fetchWarnings = await prefetchKeySets(validated)
        var prospective = index.read()
        if let settings = meshInputs?.settings.current { prospective.settings = settings }
        try await prospective.catchUp(with: store)
        let stored = prospective
        let next = (prospective.revision ?? 0) + 1
        if !write.deletes.isEmpty {
            prospective.apply(
                ConfigDelta(
                    since: next - 1, revision: next - 1,
                    changes: Dictionary(write.deletes.map { ($0.key, StoredConfig?.none) }, uniquingKeysWith: { a, _ in a })))
        }
        prospective.stage(validated, revision: next)
        if !material.isEmpty { prospective.addCredentialMaterial(material) }
        let context = prospective.context(reusing: publisher.current)
        let keys = Set(write.keys)
        try Self.checkWeights(context, applied: write.keys)
        // Dangling references are accepted (apply order must not matter) but reported.
        let warnings =
            context.warnings.filter { keys.contains($0.key) }.map { JSONValue.string($0.description) } + notHonoured
            + extraWarnings.map(JSONValue.string) + fetchWarnings.map(JSONValue.string)
        return (stored, context, warnings)
    }

    /// Fetches the `jwksUri`s of the RequestAuthentications being applied that meshd has no
    /// keys from (each bounded by its rule's timeout); one warning per failure.
    private func prefetchKeySets(_ validated: [(resource: ConfigResource, config: TypedConfig)]) async -> [String] {
        guard let jwks = meshInputs?.jwks else { return [] }
        var warnings: [String] = []
        for (resource, config) in validated {
            guard case .requestAuthentication(let spec) = config else { continue }
            for (index, rule) in spec.jwtRules.enumerated() {
                guard let uri = rule.fetchedURI, let error = await jwks.prefetch(uri, timeout: rule.timeout) else { continue }
                warnings.append("\(resource.key): spec.jwtRules[\(index)].jwksUri: fetching \(uri) failed: \(error)")
            }
        }
        return warnings
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
                message:
                    "the endpoint weights of service \(host) (\(overflow.workloads.count) WorkloadEntries selected by \(overflow.service)) would add up to more than \(UInt32.max)"
            )
        }
    }

    /// Deletes keys and returns the JSON answer (missing keys are reported as `notFound`).
    func delete(_ keys: [ConfigKey], actor: String) async throws -> JSONValue {
        if let key = keys.first(where: { !$0.kind.isAppliedAsDocument }) { throw Self.secretThroughSecretsAPI(key) }
        return answer(try await store.delete(keys, actor: actor), extra: [:])
    }

    /// Deletes one resource named by a URL path; a missing one is a 404.
    func deleteOne(_ key: ConfigKey, actor: String) async throws -> JSONValue {
        guard key.kind.isAppliedAsDocument else { throw Self.secretThroughSecretsAPI(key) }
        return try await deleteExisting(key, actor: actor)
    }

    /// Deletes `key`, answering 404 when it does not exist.
    private func deleteExisting(_ key: ConfigKey, actor: String, warnings: [String]? = nil) async throws -> JSONValue {
        let outcome = try await store.delete([key], actor: actor)
        guard outcome.changedAnything else { throw AdminError.notFound("\(key)") }
        return answer(outcome, extra: warnings.map { ["warnings": .array($0.map(JSONValue.string))] } ?? [:])
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

import Discovery
import MeshModel
import Storage
import Translator

/// The typed configuration the push side builds from, kept between pushes and updated by key.
///
/// A full load validates only records whose revision it has not seen (so a restart or a gap in
/// the change log parses what changed, not the world); a `ConfigDelta` touches only its keys.
/// A value type owned by the push loop: no locking, no sharing.
public struct ConfigIndex: Sendable {
    private struct Entry: Sendable {
        var revision: Int64
        var createdRevision: Int64
        var annotations: [String: String]
        var typed: Result<TypedConfig, MeshModelError>
        /// Spec fields outside Istio's schema (stored by an older meshd): ignored, reported.
        var unknownFields: [IstioSchema.Finding] = []
        /// Translated fields some kind of client does not honour as written (`ClientSupport`).
        var clientLimits: [IstioSchema.ClientFinding] = []
    }

    /// The store revision the index reflects; nil before the first load.
    public private(set) var revision: Int64?
    private var entries: [ConfigKey: Entry] = [:]
    /// Secondary indexes for endpoint-only updates, built on first use, kept current by
    /// `applyEndpoints` and dropped by every other change to `entries`, so an update looks at the few records it can affect instead
    /// of copying out every record (which cost more than the rest of the update).
    private var lookups: Lookups?

    private struct Lookups: Sendable {
        var serviceEntries: [String: Set<ConfigKey>] = [:]
        /// namespace → `key=value` → WorkloadEntries carrying that label.
        var workloadsByLabel: [String: [String: Set<ConfigKey>]] = [:]
        var invalid: [ConfigKey: ConfigWarning] = [:]

        mutating func remove(_ key: ConfigKey, _ entry: Entry) {
            switch entry.typed {
            case .success(.serviceEntry):
                serviceEntries[key.namespace]?.remove(key)
            case .success(.workloadEntry(let spec)):
                for (k, v) in spec.labels { workloadsByLabel[key.namespace]?["\(k)=\(v)"]?.remove(key) }
            case .failure:
                invalid.removeValue(forKey: key)
            default:
                break
            }
        }

        mutating func add(_ key: ConfigKey, _ entry: Entry) {
            switch entry.typed {
            case .success(.serviceEntry):
                serviceEntries[key.namespace, default: []].insert(key)
            case .success(.workloadEntry(let spec)):
                for (k, v) in spec.labels { workloadsByLabel[key.namespace, default: [:]]["\(k)=\(v)", default: []].insert(key) }
            case .failure(let error):
                invalid[key] = ConfigIndex.warning(key, error)
            default:
                break
            }
        }
    }
    /// The revision at which the registry's inputs (ServiceEntries, WorkloadEntries) last
    /// changed, as far as the index knows: a context at or after it has the registry this index
    /// would build, so a routing-only change reuses it instead of rebuilding every service's
    /// endpoints. A full load does not know what changed and sets it to the loaded revision.
    private var registryInputsRevision: Int64 = .max

    /// Key material of the stored `Secret`s, by digest, read from the credential vault by the
    /// push loop (`missingCredentialDigests`, `addCredentialMaterial`); never in `entries`.
    public private(set) var credentialMaterial: [String: CredentialMaterial] = [:]

    /// How many records were validated since the index was made (tests, benchmarks).
    public private(set) var validations = 0

    /// The mesh settings every context of this index is built with; the push loop sets the
    /// current ones (`MeshSettingsSource`) before each build.
    public var settings: MeshSettings

    /// The platform registry's (Kubernetes') services every context of this index merges in;
    /// the push loop sets the current ones (`PlatformRegistrySource`) before each build.
    public var platform = PlatformServices.none

    /// An empty index building contexts with `settings`.
    public init(settings: MeshSettings = MeshSettings()) {
        self.settings = settings
    }

    /// Replaces the index with `snapshot`, re-validating only records it has not seen.
    public mutating func load(_ snapshot: ConfigSnapshot) {
        var next: [ConfigKey: Entry] = [:]
        next.reserveCapacity(snapshot.configs.count)
        for stored in snapshot.configs {
            if let known = entries[stored.key], known.revision == stored.revision {
                next[stored.key] = known
            } else {
                next[stored.key] = entry(for: stored)
            }
        }
        entries = next
        lookups = nil
        revision = snapshot.revision
        registryInputsRevision = snapshot.revision
    }

    /// Applies the keys of `delta`: each changed record is validated, each deleted one dropped.
    public mutating func apply(_ delta: ConfigDelta) {
        for (key, record) in delta.changes {
            if Self.feedsRegistry(key) { registryInputsRevision = delta.revision }
            if let record {
                entries[key] = entry(for: record)
            } else {
                entries.removeValue(forKey: key)
            }
        }
        lookups = nil
        revision = delta.revision
    }

    /// Applies an endpoint-only `delta` (WorkloadEntries only) and derives the new context from
    /// `previous` — the context of the index as it was — recomputing only the endpoints of the
    /// services whose selection the change touched. Returns nil, leaving the index untouched,
    /// when the delta is not endpoint-only or `previous` is not this index's last context; the
    /// caller then applies it and builds in full.
    public mutating func applyEndpoints(_ delta: ConfigDelta, previous: PushContext) -> PushContext? {
        guard delta.isEndpointsOnly, let revision, previous.revision == revision, previous.platformGeneration == platform.generation
        else { return nil }
        // A Kubernetes Service selecting the workload: its endpoints are the platform's plus the
        // selected WorkloadEntries, which the full build merges. (Checked before anything is
        // applied, so a fallback leaves the index as it was.)
        if !platform.selectors.isEmpty {
            var labels: [ConfigKey: (before: [String: String]?, after: [String: String]?)] = [:]
            for (key, record) in delta.changes { labels[key] = (workload(key)?.labels, record.flatMap(Self.labels(of:))) }
            if ConfigRegistry.touchesPlatformSelectors(changed: labels, platform: platform) { return nil }
        }
        var changed: [ConfigKey: (before: [String: String]?, after: [String: String]?)] = [:]
        var lookups = self.lookups ?? buildLookups()
        for (key, record) in delta.changes {
            changed[key] = (workload(key)?.labels, nil)
            if let old = entries[key] { lookups.remove(key, old) }
            if let record {
                let entry = entry(for: record)
                lookups.add(key, entry)
                entries[key] = entry
            } else {
                entries.removeValue(forKey: key)
            }
            changed[key]?.after = workload(key)?.labels
        }
        self.revision = delta.revision
        self.lookups = lookups
        registryInputsRevision = delta.revision

        var serviceEntries: [ConfigKey: ServiceEntry] = [:]
        for namespace in Set(changed.keys.map(\.namespace)) {
            for key in lookups.serviceEntries[namespace] ?? [] {
                if case .success(.serviceEntry(let spec))? = entries[key]?.typed { serviceEntries[key] = spec }
            }
        }
        // Only the workloads an affected selector can select: looked up by the selector's
        // rarest label instead of scanning the namespace.
        var workloads: [ConfigRegistry.Workload] = []
        var seen: Set<ConfigKey> = []
        for selector in ConfigRegistry.touchedSelectors(changed: changed, serviceEntries: serviceEntries) {
            let byLabel = lookups.workloadsByLabel[selector.namespace] ?? [:]
            let candidates =
                selector.labels.map { byLabel["\($0.key)=\($0.value)"] ?? [] }.min { $0.count < $1.count }
                ?? Set(byLabel.values.joined())
            for key in candidates where seen.insert(key).inserted {
                guard let entry = entries[key], case .success(.workloadEntry(let spec)) = entry.typed else { continue }
                workloads.append(.init(key: key, spec: spec, health: ConfigRegistry.health(annotations: entry.annotations) ?? .unhealthy))
            }
        }
        let invalid = lookups.invalid.values.sorted { $0.key < $1.key }
        let (registry, hosts) = ConfigRegistry.updatingEndpoints(
            previous.registry, changed: changed,
            serviceEntries: serviceEntries, workloads: workloads)
        // The warnings that depend on endpoints are the weight overflows of the touched hosts and
        // the invalid records; every other warning is about routing, which did not change.
        let staleOverflows = Set(hosts.compactMap { previous.registry.weightOverflows[$0] }.map(PushContextBuilder.weightWarning))
        let previousInvalid = Set(previous.invalid)
        var warnings = invalid
        warnings += previous.warnings.filter { !previousInvalid.contains($0) && !staleOverflows.contains($0) }
        warnings += hosts.sorted().compactMap { registry.weightOverflows[$0] }.map(PushContextBuilder.weightWarning)
        return previous.replacing(
            revision: delta.revision, registry: registry, warnings: warnings, invalid: invalid,
            scope: .endpoints(since: previous.version, hosts: hosts))
    }

    /// The labels of a stored WorkloadEntry record as stored (nil when it has none or does not
    /// validate: then it selects nothing).
    private static func labels(of record: StoredConfig) -> [String: String]? {
        guard case .success(.workloadEntry(let spec)) = validate(record.resource) else { return nil }
        return spec.labels
    }

    private func buildLookups() -> Lookups {
        var lookups = Lookups()
        for (key, entry) in entries { lookups.add(key, entry) }
        return lookups
    }

    fileprivate static func warning(_ key: ConfigKey, _ error: MeshModelError) -> ConfigWarning {
        ConfigWarning(key: key, field: error.field ?? "spec", message: "left out of pushes: \(error.message)")
    }

    private func workload(_ key: ConfigKey) -> WorkloadEntry? {
        guard case .success(.workloadEntry(let spec))? = entries[key]?.typed else { return nil }
        return spec
    }

    /// The valid `Secret`s whose material the index does not hold yet, with the digest each names.
    public var missingCredentials: [(key: ConfigKey, digest: String)] {
        namedCredentials.filter { credentialMaterial[$0.digest] == nil }.sorted { $0.key < $1.key }
    }

    /// Adds material read from the vault and forgets material no `Secret` names any more, so a
    /// deleted or replaced credential's key does not stay in memory.
    public mutating func addCredentialMaterial(_ material: [CredentialMaterial]) {
        for item in material { credentialMaterial[item.digest] = item }
        let named = Set(namedCredentials.map(\.digest))
        credentialMaterial = credentialMaterial.filter { named.contains($0.key) }
    }

    /// Every valid `Secret` with the digest of the material it names.
    private var namedCredentials: [(key: ConfigKey, digest: String)] {
        entries.compactMap { key, entry in
            guard case .success(.secret(let spec)) = entry.typed else { return nil }
            return (key, spec.material)
        }
    }

    /// Puts already validated resources into the index as an apply at `revision` would store
    /// them (creation revisions of existing keys kept): the write path's view of the
    /// configuration after the apply, on its own copy of the index.
    public mutating func stage(_ validated: [(resource: ConfigResource, config: TypedConfig)], revision: Int64) {
        for (resource, config) in validated {
            if Self.feedsRegistry(resource.key) { registryInputsRevision = revision }
            let created = entries[resource.key]?.createdRevision ?? revision
            entries[resource.key] = Entry(
                revision: revision, createdRevision: created,
                annotations: resource.annotations, typed: .success(config))
        }
        lookups = nil
        self.revision = revision
    }

    /// Why `stored` fails validation, or nil when it passes: the index's own verdict when it
    /// holds that record at that revision (every stored record passed through it), else a fresh
    /// validation. Readers such as the admin API's listings need not validate the store again.
    public func validationError(of stored: StoredConfig) -> MeshModelError? {
        if let entry = entries[stored.key], entry.revision == stored.revision {
            if case .failure(let error) = entry.typed { return error }
            return nil
        }
        if case .failure(let error) = Self.validate(stored.resource) { return error }
        return nil
    }

    /// The PushContext of the indexed configuration. Records that fail validation (stored under
    /// older rules) are left out and listed in `PushContext.invalid`.
    ///
    /// `previous`, a context of the same store, lends its registry when no ServiceEntry or
    /// WorkloadEntry changed since it was built: a routing change (VirtualService,
    /// DestinationRule) then rebuilds only the routing indices.
    public func context(reusing previous: PushContext? = nil) -> PushContext {
        var inputs: [PushContextBuilder.Input] = []
        inputs.reserveCapacity(entries.count)
        var invalid: [ConfigWarning] = []
        let reuse = previous.flatMap {
            $0.revision >= registryInputsRevision && $0.platformGeneration == platform.generation ? $0.registry : nil
        }
        for (key, entry) in entries {
            switch entry.typed {
            case .success(let config):
                if reuse != nil && Self.feedsRegistry(key) { continue }
                inputs.append(.init(key: key, createdRevision: entry.createdRevision, annotations: entry.annotations, config: config))
            case .failure(let error):
                invalid.append(Self.warning(key, error))
            }
        }
        invalid.sort { $0.key < $1.key }
        return PushContextBuilder.build(
            revision: revision ?? 0, inputs: inputs, invalid: invalid, registry: reuse, settings: settings,
            credentialMaterial: credentialMaterial, platform: platform)
    }

    /// Every record that validates, as context inputs sorted by key: what the analyzers read
    /// besides the context (which keeps one VirtualService or DestinationRule per host and namespace).
    public var validInputs: [PushContextBuilder.Input] {
        entries.compactMap { key, entry in
            guard case .success(let config) = entry.typed else { return nil }
            return PushContextBuilder.Input(key: key, createdRevision: entry.createdRevision, annotations: entry.annotations, config: config)
        }.sorted { $0.key < $1.key }
    }

    /// Whether records of `key`'s kind are inputs of the service registry.
    private static func feedsRegistry(_ key: ConfigKey) -> Bool {
        key.kind == .serviceEntry || key.kind == .workloadEntry
    }

    private mutating func entry(for stored: StoredConfig) -> Entry {
        validations += 1
        let report = IstioSchema.check(kind: stored.key.kind.rawValue, spec: stored.resource.spec)
        let typed = Self.validate(stored.resource)
        var clientLimits = report.clientLimits
        // A Gateway API route's limits are read from its typed form (its schema is not Istio's).
        if case .success(.route(let route)) = typed { clientLimits += GatewayRouteSupport.report(route).clientLimits }
        return Entry(
            revision: stored.revision, createdRevision: stored.createdRevision,
            annotations: stored.resource.annotations, typed: typed,
            unknownFields: report.unknown, clientLimits: clientLimits)
    }

    /// How many stored fields each kind of client does not honour as written: what the push loop
    /// counts after a build, without building `unhonouredFieldWarnings`.
    public var unhonouredFieldCounts: [ProxyKind: Int] {
        var counts: [ProxyKind: Int] = [:]
        for entry in entries.values {
            for limit in entry.clientLimits {
                for kind in limit.kinds { counts[kind, default: 0] += 1 }
            }
        }
        return counts
    }

    /// Stored fields that a kind of client does not honour, or gets a substitute for (the apply
    /// answer warned about each, once for kinds that agree); one entry per kind, sorted by
    /// resource, then document order, then kind.
    public var unhonouredFieldWarnings: [(kind: ProxyKind, warning: ConfigWarning)] {
        entries.filter { !$0.value.clientLimits.isEmpty }.sorted { $0.key < $1.key }.flatMap { key, entry in
            entry.clientLimits.flatMap { limit in
                limit.kinds.map { (kind: $0, warning: ConfigWarning(key: key, field: limit.path, message: limit.message)) }
            }
        }
    }

    /// Stored resources with spec fields outside Istio's schema (written before meshd refused
    /// them): still pushed, those fields ignored; one warning per field, sorted by resource.
    public var unknownFieldWarnings: [ConfigWarning] {
        entries.filter { !$0.value.unknownFields.isEmpty }.sorted { $0.key < $1.key }.flatMap { key, entry in
            entry.unknownFields.map {
                ConfigWarning(
                    key: key, field: $0.path,
                    message:
                        "unknown field \"\($0.name)\" (not in Istio's schema), stored by an earlier meshd: ignored; remove it or fix its spelling")
            }
        }
    }

    private static func validate(_ resource: ConfigResource) -> Result<TypedConfig, MeshModelError> {
        Result { () throws(MeshModelError) in try ConfigValidator.validate(resource) }
    }
}

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
    }

    /// The store revision the index reflects; nil before the first load.
    public private(set) var revision: Int64?
    private var entries: [ConfigKey: Entry] = [:]
    /// How many records were validated since the index was made (tests, benchmarks).
    public private(set) var validations = 0

    /// An empty index.
    public init() {}

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
        revision = snapshot.revision
    }

    /// Applies the keys of `delta`: each changed record is validated, each deleted one dropped.
    public mutating func apply(_ delta: ConfigDelta) {
        for (key, record) in delta.changes {
            if let record {
                entries[key] = entry(for: record)
            } else {
                entries.removeValue(forKey: key)
            }
        }
        revision = delta.revision
    }

    /// Applies an endpoint-only `delta` (WorkloadEntries only) and derives the new context from
    /// `previous` — the context of the index as it was — recomputing only the endpoints of the
    /// services whose selection the change touched. Returns nil, leaving the index untouched,
    /// when the delta is not endpoint-only or `previous` is not this index's last context; the
    /// caller then applies it and builds in full.
    public mutating func applyEndpoints(_ delta: ConfigDelta, previous: PushContext) -> PushContext? {
        guard delta.isEndpointsOnly, let revision, previous.revision == revision else { return nil }
        var changed: [ConfigKey: (before: [String: String]?, after: [String: String]?)] = [:]
        for key in delta.changes.keys { changed[key] = (workload(key)?.labels, nil) }
        apply(delta)
        for key in delta.changes.keys { changed[key]?.after = workload(key)?.labels }

        let namespaces = Set(changed.keys.map(\.namespace))
        var serviceEntries: [ConfigKey: ServiceEntry] = [:]
        var workloads: [ConfigRegistry.Workload] = []
        var invalid: [ConfigWarning] = []
        for (key, entry) in entries {
            switch entry.typed {
            case .success(.serviceEntry(let spec)) where namespaces.contains(key.namespace):
                serviceEntries[key] = spec
            case .success(.workloadEntry(let spec)) where namespaces.contains(key.namespace):
                let healthy = entry.annotations[ConfigRegistry.healthAnnotation]?.lowercased() != "false"
                workloads.append(.init(key: key, spec: spec, healthy: healthy))
            case .failure(let error):
                invalid.append(ConfigWarning(key: key, field: error.field ?? "spec", message: "left out of pushes: \(error.message)"))
            default:
                break
            }
        }
        invalid.sort { $0.key < $1.key }
        let (registry, hosts) = ConfigRegistry.updatingEndpoints(previous.registry, changed: changed,
                                                                  serviceEntries: serviceEntries, workloads: workloads)
        // The warnings that depend on endpoints are the weight overflows of the touched hosts and
        // the invalid records; every other warning is about routing, which did not change.
        let staleOverflows = Set(hosts.compactMap { previous.registry.weightOverflows[$0] }.map(PushContextBuilder.weightWarning))
        let previousInvalid = Set(previous.invalid)
        var warnings = invalid
        warnings += previous.warnings.filter { !previousInvalid.contains($0) && !staleOverflows.contains($0) }
        warnings += hosts.sorted().compactMap { registry.weightOverflows[$0] }.map(PushContextBuilder.weightWarning)
        return PushContext(revision: delta.revision, registry: registry, virtualServices: previous.virtualServices,
                           destinationRules: previous.destinationRules, warnings: warnings, invalid: invalid,
                           scope: .endpoints(since: previous.revision, hosts: hosts))
    }

    private func workload(_ key: ConfigKey) -> WorkloadEntry? {
        guard case .success(.workloadEntry(let spec))? = entries[key]?.typed else { return nil }
        return spec
    }

    /// The PushContext of the indexed configuration. Records that fail validation (stored under
    /// older rules) are left out and listed in `PushContext.invalid`.
    public func context(scope: PushContext.Scope = .full) -> PushContext {
        var inputs: [PushContextBuilder.Input] = []
        inputs.reserveCapacity(entries.count)
        var invalid: [ConfigWarning] = []
        for (key, entry) in entries {
            switch entry.typed {
            case .success(let config):
                inputs.append(.init(key: key, createdRevision: entry.createdRevision, annotations: entry.annotations, config: config))
            case .failure(let error):
                invalid.append(ConfigWarning(key: key, field: error.field ?? "spec", message: "left out of pushes: \(error.message)"))
            }
        }
        invalid.sort { $0.key < $1.key }
        return PushContextBuilder.build(revision: revision ?? 0, inputs: inputs, invalid: invalid, scope: scope)
    }

    private mutating func entry(for stored: StoredConfig) -> Entry {
        validations += 1
        let typed: Result<TypedConfig, MeshModelError>
        do {
            typed = .success(try ConfigValidator.validate(stored.resource))
        } catch {
            typed = .failure(error)
        }
        return Entry(revision: stored.revision, createdRevision: stored.createdRevision,
                     annotations: stored.resource.annotations, typed: typed)
    }
}

import Foundation
import Kubernetes
import Logging
import MeshModel
import Storage
import Synchronization

/// A `ConfigStore` in the Kubernetes API (`--store kubernetes`): Istio's own objects, applied
/// with `kubectl` or through meshd, are the configuration; no replica keeps a store of its own.
///
/// - Every replica watches the objects of every kind meshd serves (one version per kind: the
///   CRDs serve every accepted version from one stored object) and the history ledger
///   (`LedgerEntry`: ConfigMaps in meshd's namespace).
/// - What replicas serve is what the ledger describes, so they agree on revisions. The elected
///   replica runs `record()`: it appends an entry for whatever the objects hold that the ledger
///   does not, so a `kubectl apply` is served once it is recorded — a few milliseconds later.
/// - Writes through meshd (`meshctl apply`, delete, rollback, the dashboard) go to the API
///   server with Kubernetes' per-object optimistic concurrency (`resourceVersion`), under the
///   field manager `meshd:ACTOR` that the record then names, and return once recorded.
///
/// Thread-safe; `run()` must be running for changes to arrive.
public final class KubernetesConfigStore: ConfigStore {
    struct State: Sendable {
        var ledger = LedgerState()
        /// The Istio objects the API server holds, as last listed or watched.
        var objects: [ConfigKey: IstioObject] = [:]
        /// Revisions of the ledger's ConfigMaps, as last listed or watched.
        var entries: Set<Int64> = []
        /// Objects that cannot be served (why), reported once each.
        var problems: [ConfigKey: String] = [:]
        /// Collections whose watch has listed at least once.
        var synced: Set<String> = []
        /// Who deleted what through this replica, until the deletion is recorded: a deleted
        /// object names no field manager, so the record's actor comes from here when this
        /// replica records it too.
        var deleters: [ConfigKey: FieldManager] = [:]
        /// Every usable credential in the cluster's Secrets, as `Secret` resources; those a
        /// Gateway names are also among `objects`.
        var credentials: [ConfigKey: IstioObject] = [:]
        /// Gateway credentials' material from Kubernetes Secrets, by their `Secret` resource's
        /// key: the current one first, then the one before it, which the ledger may still
        /// record until the rotation is recorded.
        var materials: [ConfigKey: [CredentialMaterial]] = [:]
        /// Whether the ledger has recorded everything the API server held, once (`isSynced`).
        var recordedOnce = false
        /// Writes through this replica in progress: while one is, the recorder waits, so a write
        /// of several objects is one record when this replica records it.
        var writing = 0
        /// Collections whose requests are failing, with the last error.
        var failing: [String: String] = [:]
    }

    let api: KubeAPIClient
    /// meshd's namespace: where the ledger, the Lease and the identity Secret live.
    public let namespace: String
    let logger: Logger
    let health: @Sendable (String?) -> Void
    let state = Mutex(State())
    let broadcaster = RevisionBroadcaster()
    /// Wakes the recorder after any change of objects or ledger (latest only; a new
    /// subscription per term of leadership).
    let wakeRecorder = RevisionBroadcaster()
    /// How long a write waits for the ledger to record it before returning anyway.
    let recordTimeout: Duration
    /// Reads gateway credentials from Kubernetes Secrets (none are read without it).
    let credentials: CredentialDecoder?

    /// Opens the store: lists every kind's objects and the ledger once (throws `.unavailable`
    /// when the API server cannot be reached or refuses), so the first build sees the
    /// configuration the ledger records, never an empty one.
    public init(
        api: KubeAPIClient, namespace: String, recordTimeout: Duration = .seconds(10), credentials: CredentialDecoder? = nil, logger: Logger,
        health: @escaping @Sendable (String?) -> Void = { _ in }
    ) async throws(StorageError) {
        self.api = api
        self.credentials = credentials
        self.namespace = namespace
        self.logger = logger
        self.health = health
        self.recordTimeout = recordTimeout
        var objects: [ConfigKey: IstioObject] = [:]
        var entries: [LedgerEntry] = []
        var secrets: [KubeObject] = []
        var prunedThrough: Int64 = 0
        do {
            for kind in ConfigKind.kubeServed {
                for object in try await Self.listKind(kind, api: api) {
                    let key = ConfigKey(kind: kind, namespace: object.key.namespace, name: object.key.name)
                    objects[key] = IstioObjectCodec.decode(object, kind: kind)
                }
            }
            for object in try await api.listAll(LedgerCodec.collection(namespace: namespace)) {
                if let through = LedgerCodec.prunedThrough(object) {
                    prunedThrough = through
                } else {
                    entries.append(try LedgerCodec.readable(object))
                }
            }
            if credentials != nil { secrets = try await api.listAll(Self.secretsCollection) }
        } catch let error as KubeAPIError {
            throw StorageError(code: .unavailable, message: "the Kubernetes API server cannot be read: \(error)")
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(code: .unavailable, message: "the Kubernetes API server cannot be read: \(error)")
        }
        state.withLock { state in state.objects = objects }
        if let credentials { applySecrets(secrets.map { .upsert($0) }, decode: credentials) }
        state.withLock { state in
            state.entries = Set(entries.map(\.revision))
            state.ledger.bootstrap(entries: entries, objects: state.objects, prunedThrough: prunedThrough)
        }
        logger.info(
            "config from the Kubernetes API",
            metadata: ["objects": "\(objects.count)", "ledger": "\(entries.count) entries", "namespace": "\(namespace)"])
    }

    /// Every object of `kind`; a kind the API server does not serve means the CRDs are missing
    /// (for an optional kind, the Gateway API's: none yet, as when meshd may not read it).
    private static func listKind(_ kind: ConfigKind, api: KubeAPIClient) async throws(StorageError) -> [KubeObject] {
        do {
            return try await api.listAll(kind.kubeCollection)
        } catch  where (error.status == 404 || error.status == 403) && kind.isOptionalOnKubernetes {
            // Not installed, or not readable under an older install's RBAC: served empty (the
            // watch task says which and waits for it to change).
            return []
        } catch {
            let message =
                error.status == 404
                ? "the Istio CRDs are not installed (the API server does not serve \(kind.kubeCollection.name)): kubectl apply -f deploy/kubernetes/istio-crds.yaml"
                : "the Kubernetes API server cannot be read: \(error)"
            throw StorageError(code: .unavailable, message: message)
        }
    }

    public func get(_ key: ConfigKey) async throws(StorageError) -> StoredConfig? {
        state.withLock { $0.ledger.mirror.records[key] }
    }

    public func list(kind: ConfigKind?, namespace: String?) async throws(StorageError) -> [StoredConfig] {
        state.withLock { $0.ledger.mirror.records.values.matching(kind: kind, namespace: namespace) }
    }

    public func snapshot() async throws(StorageError) -> ConfigSnapshot {
        state.withLock { $0.ledger.mirror.snapshot }
    }

    public func currentRevision() async throws(StorageError) -> Int64 {
        state.withLock { $0.ledger.head }
    }

    public func revisions() -> AsyncStream<Int64> { broadcaster.subscribe() }

    public func delta(after revision: Int64) async throws(StorageError) -> ConfigDelta? {
        state.withLock { $0.ledger.mirror.delta(after: revision) }
    }

    public func history(_ query: HistoryQuery) async throws(StorageError) -> HistoryPage {
        state.withLock { state in
            let items = state.ledger.records(after: 0).reversed().filter {
                $0.touches(kind: query.kind, namespace: query.namespace, name: query.name)
            }
            return HistoryPage(items: Array(items.prefix(query.limit)), oldestRevision: state.ledger.floor)
        }
    }

    public func historyWindow(after revision: Int64) async throws(StorageError) -> HistoryWindow {
        state.withLock { state in
            HistoryWindow(
                snapshot: state.ledger.mirror.snapshot, records: state.ledger.records(after: revision), floor: state.ledger.floor)
        }
    }

    /// Whether the ledger has recorded what the API server holds (once true, stays true): until
    /// then the first push waits, so proxies never get a configuration without the cluster's.
    public var isSynced: Bool {
        state.withLock { state in
            if !state.recordedOnce, state.ledger.nextEntry(objects: state.objects, now: Date()) == nil { state.recordedOnce = true }
            return state.recordedOnce
        }
    }
}

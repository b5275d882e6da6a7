import Discovery
import Logging
import Synchronization

/// meshd's Kubernetes registry at work: one list-and-watch per resource (`KubeResource`), their
/// changes applied to a `KubernetesRegistry`, and what it makes handed to `publish` after each
/// step — with the hosts whose endpoints alone changed, so those are pushed as EDS only.
///
/// Failures never stop it: each watch retries with backoff while proxies keep the last state;
/// `health` gets a message while the API server cannot be reached or a resource has not synced,
/// and nil once every resource is synced and watching. Thread-safe.
public final class KubernetesDiscovery: Sendable {
    /// One resource's list-and-watch, for `/debug/kubernetes`.
    public struct ResourceStatus: Sendable, Hashable {
        public var resource: KubeResource
        public var synced = false
        /// Complete lists made: the first and one per relist.
        public var lists = 0
        /// `410 Gone` answers seen (each is followed by a relist).
        public var gones = 0
        /// Failed requests so far.
        public var failures = 0
        /// Failures since the last success (0 when healthy).
        public var consecutiveFailures = 0
        public var lastError: String?
        /// Where the watch resumes.
        public var resourceVersion: String?
        /// Objects held, by key, with their resourceVersion.
        public var objects: [ObjectKey: String] = [:]
    }

    /// What `publish` receives: the registry's output, the hosts whose endpoints alone changed
    /// (nil when services changed), and whether every resource has synced.
    public typealias Publish = @Sendable (_ services: PlatformServices, _ endpointHosts: Set<String>?, _ synced: Bool) -> Void

    private struct State {
        var registry: KubernetesRegistry
        var statuses: [KubeResource: ResourceStatus]
        var healthMessage: String?
    }

    /// The API server's client.
    public let api: KubeAPIClient
    private let state: Mutex<State>
    private let publish: Publish
    private let health: @Sendable (String?) -> Void
    private let logger: Logger
    private let pageSize: Int

    /// Discovery through `api`, hosts under `clusterDomain`.
    public init(
        api: KubeAPIClient, clusterDomain: String = "cluster.local", pageSize: Int = 500, publish: @escaping Publish,
        health: @escaping @Sendable (String?) -> Void, logger: Logger
    ) {
        self.api = api
        self.publish = publish
        self.health = health
        self.logger = logger
        self.pageSize = pageSize
        var statuses: [KubeResource: ResourceStatus] = [:]
        for resource in KubeResource.allCases { statuses[resource] = ResourceStatus(resource: resource) }
        state = Mutex(State(registry: KubernetesRegistry(clusterDomain: clusterDomain), statuses: statuses))
    }

    /// The cluster's DNS domain.
    public var clusterDomain: String { state.withLock { $0.registry.clusterDomain } }

    /// Every resource's status, in `KubeResource` order.
    public var statuses: [ResourceStatus] {
        state.withLock { state in KubeResource.allCases.compactMap { state.statuses[$0] } }
    }

    /// Services the registry does not serve, with why.
    public var unservedServices: [(key: ObjectKey, reason: String)] { state.withLock { $0.registry.unservedServices } }

    /// Lists and watches every resource until cancelled.
    public func run() async {
        updateHealth()
        await withTaskGroup(of: Void.self) { group in
            for resource in KubeResource.allCases {
                group.addTask {
                    let watcher = KubeWatcher(collection: resource.collection, api: self.api, pageSize: self.pageSize)
                    await watcher.run(
                        apply: { effects in self.apply(resource, effects) },
                        report: { report in self.note(resource, report) })
                }
            }
        }
    }

    private func apply(_ resource: KubeResource, _ effects: [ListWatchMachine.Effect]) {
        let firstSync = effects.contains(.synced)
        // Published under the lock: two watchers publishing outside it could hand the push
        // loop an older output after a newer one, losing the newer change until the next.
        state.withLock { state in
            var change = KubernetesRegistry.Change()
            for effect in effects {
                switch effect {
                case .upsert(let object):
                    change.formUnion(state.registry.upsert(resource, object))
                    state.statuses[resource]?.objects[object.key] = object.resourceVersion
                case .delete(let object):
                    change.formUnion(state.registry.delete(resource, object))
                    state.statuses[resource]?.objects.removeValue(forKey: object.key)
                case .synced:
                    state.statuses[resource]?.synced = true
                case .send, .wait:
                    break
                }
            }
            guard !change.isEmpty || firstSync else { return }
            publish(state.registry.output, change.services ? nil : change.endpointHosts, state.statuses.values.allSatisfy(\.synced))
        }
    }

    private func note(_ resource: KubeResource, _ report: KubeWatcher.Report) {
        // A request cut short by shutdown is not a failure of the API server.
        if Task.isCancelled { return }
        let logged: String? = state.withLock { state in
            switch report {
            case .progress(let machine):
                state.statuses[resource]?.lists = machine.lists
                state.statuses[resource]?.resourceVersion = machine.resourceVersion
                // Failures are counted as reported; a success the machine saw clears them.
                if machine.consecutiveFailures == 0 {
                    state.statuses[resource]?.consecutiveFailures = 0
                    state.statuses[resource]?.lastError = nil
                }
                return nil
            case .failure(let message):
                state.statuses[resource]?.failures += 1
                state.statuses[resource]?.consecutiveFailures += 1
                state.statuses[resource]?.lastError = message
                return message
            case .gone:
                state.statuses[resource]?.gones += 1
                return nil
            case .watching:
                state.statuses[resource]?.consecutiveFailures = 0
                state.statuses[resource]?.lastError = nil
                return nil
            }
        }
        if let logged { logger.warning("kubernetes API request failed; retrying", metadata: ["resource": "\(resource)", "error": "\(logged)"]) }
        updateHealth()
    }

    /// `/ready`'s `kubernetes` degradation: unsynced resources or failing requests, else nil.
    private func updateHealth() {
        let message: String?? = state.withLock { state in
            let unsynced = KubeResource.allCases.filter { !(state.statuses[$0]?.synced ?? false) }
            let failing = KubeResource.allCases.compactMap { resource -> String? in
                guard let status = state.statuses[resource], status.consecutiveFailures > 0 else { return nil }
                return "\(resource): \(status.lastError ?? "failing")"
            }
            var parts: [String] = []
            if !failing.isEmpty { parts.append("the API server \(api.config.server) is failing (\(failing.joined(separator: "; ")))") }
            if !unsynced.isEmpty { parts.append("not synced yet: \(unsynced.map(\.rawValue).joined(separator: ", "))") }
            let message = parts.isEmpty ? nil : parts.joined(separator: "; ") + "; proxies keep the last known state"
            guard message != state.healthMessage else { return .none }
            state.healthMessage = message
            return .some(message)
        }
        if case .some(let message) = message {
            health(message)
            if message == nil { logger.notice("kubernetes registry synced and watching", metadata: ["server": "\(api.config.server)"]) }
        }
    }
}

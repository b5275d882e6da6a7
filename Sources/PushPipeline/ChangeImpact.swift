import Translator
import XDSCore

/// Which connected proxies a configuration change would send something, and what: the
/// resources (by type and name) each would receive new, changed, or have removed.
///
/// A pure function of the proxies, the PushContext now and the one the change would make, and
/// the generators. Every proxy's resources are a function of (view key, PushContext), so each
/// distinct view key is generated once per context however many proxies share it (1,000 proxies
/// with one view cost two generations), and a stream's last snapshot is reused for "now" when it
/// was generated from that very context and key. Resources are compared by their encoded bytes.
///
/// What a proxy receives is narrowed by its subscriptions when they are known: a type it never
/// subscribed to does not count, and for a type it subscribes to by name, only those names and
/// the ones they lead to (a listener's route configuration, a route's clusters, a cluster's
/// endpoints — what the proxy will ask for next, as grpcio does) count.
///
/// Bounded: at most `maxGenerations` snapshots are generated; proxies whose views are past the
/// bound, or whose generation throws, are listed in `failures` rather than failing the whole.
public struct ChangeImpact: Sendable {
    /// What happens to one resource a proxy holds or would hold.
    public enum Change: String, Sendable, Hashable {
        case added, modified, removed
    }

    /// One resource a proxy would receive new, changed, or lose.
    public struct ResourceChange: Sendable, Hashable {
        public var typeURL: String
        public var name: String
        public var change: Change

        public init(typeURL: String, name: String, change: Change) {
            self.typeURL = typeURL
            self.name = name
            self.change = change
        }

        /// The message name the type URL ends with: `Listener`, `RouteConfiguration`, `Cluster`,
        /// `ClusterLoadAssignment`, `Secret`.
        public var typeName: String {
            typeURL.split(separator: ".").last.map(String.init) ?? typeURL
        }
    }

    /// A connected proxy to assess.
    public struct Target: Sendable {
        /// Who the proxy is (its view key is computed from it in each context).
        public var proxy: Proxy
        /// What it subscribes to by type URL; nil when unknown (every type, every name counts).
        public var subscriptions: [String: ResourceSubscription]?
        /// The snapshot its stream last sent from, reused when it matches the "before" context.
        public var snapshot: ProxySnapshot?

        public init(proxy: Proxy, subscriptions: [String: ResourceSubscription]? = nil, snapshot: ProxySnapshot? = nil) {
            self.proxy = proxy
            self.subscriptions = subscriptions
            self.snapshot = snapshot
        }
    }

    /// A proxy the change would send something, with what, and both snapshots (for diffs).
    public struct Affected: Sendable {
        public var proxy: Proxy
        /// Sorted by push order of type (CDS, EDS, LDS, RDS, then others by URL), then name.
        public var changes: [ResourceChange]
        public var before: ProxySnapshot
        public var after: ProxySnapshot
    }

    /// A proxy whose impact could not be worked out, and why.
    public struct Failure: Error, Sendable, Hashable {
        public var proxyID: String
        public var message: String
    }

    /// Makes the snapshot of a view key at a context (the generators, or a test's stand-in).
    public typealias Generate = @Sendable (ViewKey, PushContext) throws -> ProxySnapshot

    /// The default bound on generated snapshots per computation.
    public static let defaultMaxGenerations = 1000

    /// Affected proxies, sorted by node id; proxies the change sends nothing are left out.
    public let affected: [Affected]
    /// Proxies whose impact is unknown, sorted by node id.
    public let failures: [Failure]
    /// How many snapshots were generated (the cost; at most two per distinct view).
    public let generations: Int
    /// How many "before" snapshots were taken from the streams instead of generated.
    public let reused: Int

    /// The impact on `targets` of moving from `before` to `after`, generating with `generators`
    /// (each view with its kind's).
    public static func compute(
        _ targets: [Target], before: PushContext, after: PushContext,
        generators: GeneratorTable, maxGenerations: Int = defaultMaxGenerations
    ) -> ChangeImpact {
        compute(targets, before: before, after: after, maxGenerations: maxGenerations) { key, push in
            ProxySnapshot(view: ProxyView(key: key, push: push), push: push, generators: generators.generators(for: key.kind))
        }
    }

    /// The impact on `targets` of moving from `before` to `after`, snapshots made by `generate`.
    public static func compute(
        _ targets: [Target], before: PushContext, after: PushContext,
        maxGenerations: Int, generate: @escaping Generate
    ) -> ChangeImpact {
        var work = Computation(before: before, after: after, bound: max(0, maxGenerations), generate: generate)
        var affected: [Affected] = []
        var failures: [Failure] = []
        for target in targets.sorted(by: { $0.proxy.id < $1.proxy.id }) {
            switch work.assess(target) {
            case .success(let result?): affected.append(result)
            case .success(nil): break
            case .failure(let failure): failures.append(failure)
            }
        }
        return ChangeImpact(affected: affected, failures: failures, generations: work.generations, reused: work.reused)
    }
}

extension ChangeImpact {
    /// The per-computation caches: snapshots by view key for each context, and the changes
    /// worked out for each (before key, after key, subscriptions), so proxies alike cost a lookup.
    private struct Computation {
        struct PairKey: Hashable {
            var before: ViewKey
            var after: ViewKey
            var subscriptions: [String: ResourceSubscription]?
        }

        let before: PushContext
        let after: PushContext
        let bound: Int
        let generate: Generate
        var snapshotsBefore: [ViewKey: Result<ProxySnapshot, Failure>] = [:]
        var snapshotsAfter: [ViewKey: Result<ProxySnapshot, Failure>] = [:]
        var changes: [PairKey: [ResourceChange]] = [:]
        var generations = 0
        var reused = 0

        init(before: PushContext, after: PushContext, bound: Int, generate: @escaping Generate) {
            self.before = before
            self.after = after
            self.bound = bound
            self.generate = generate
        }

        mutating func assess(_ target: Target) -> Result<Affected?, Failure> {
            let proxy = target.proxy
            let keyBefore = before.viewKey(for: proxy)
            let keyAfter = after.viewKey(for: proxy)
            if snapshotsBefore[keyBefore] == nil, let snapshot = target.snapshot,
                snapshot.version == before.version, snapshot.view?.key == keyBefore
            {
                snapshotsBefore[keyBefore] = .success(snapshot)
                reused += 1
            }
            let old: ProxySnapshot
            let new: ProxySnapshot
            switch (snapshot(keyBefore, in: before, cache: \.snapshotsBefore), snapshot(keyAfter, in: after, cache: \.snapshotsAfter)) {
            case (.success(let a), .success(let b)):
                old = a
                new = b
            case (.failure(let failure), _), (_, .failure(let failure)):
                return .failure(Failure(proxyID: proxy.id, message: failure.message))
            }
            let pair = PairKey(before: keyBefore, after: keyAfter, subscriptions: target.subscriptions)
            let found = changes[pair] ?? ChangeImpact.changes(from: old, to: new, subscriptions: target.subscriptions)
            changes[pair] = found
            return .success(found.isEmpty ? nil : Affected(proxy: proxy, changes: found, before: old, after: new))
        }

        private mutating func snapshot(
            _ key: ViewKey, in push: PushContext,
            cache: WritableKeyPath<Computation, [ViewKey: Result<ProxySnapshot, Failure>]>
        ) -> Result<ProxySnapshot, Failure> {
            if let known = self[keyPath: cache][key] { return known }
            let result: Result<ProxySnapshot, Failure>
            if generations >= bound {
                result = .failure(
                    Failure(
                        proxyID: "",
                        message: "not worked out: the connected proxies have more distinct views than the bound of \(bound) generations per dry run"))
            } else {
                generations += 1
                do {
                    result = .success(try generate(key, push))
                } catch {
                    result = .failure(Failure(proxyID: "", message: "generating its view (\(key)) at revision \(push.revision) failed: \(error)"))
                }
            }
            self[keyPath: cache][key] = result
            return result
        }
    }
}

extension ChangeImpact {
    /// The resources a proxy with `subscriptions` would receive, change or lose moving from
    /// `old` to `new`, sorted by push order of type, then name.
    public static func changes(
        from old: ProxySnapshot, to new: ProxySnapshot,
        subscriptions: [String: ResourceSubscription]?
    ) -> [ResourceChange] {
        let held = self.held(old, subscriptions: subscriptions)
        let holding = self.held(new, subscriptions: subscriptions)
        var result: [ResourceChange] = []
        for typeURL in Set(held.keys).union(holding.keys) {
            let was = held[typeURL] ?? []
            let will = holding[typeURL] ?? []
            let oldResources = old.of(typeURL)
            let newResources = new.of(typeURL)
            for name in was.union(will) {
                switch (was.contains(name), will.contains(name)) {
                case (false, true):
                    result.append(.init(typeURL: typeURL, name: name, change: .added))
                case (true, false):
                    result.append(.init(typeURL: typeURL, name: name, change: .removed))
                default:
                    if oldResources[name]?.payload.value != newResources[name]?.payload.value {
                        result.append(.init(typeURL: typeURL, name: name, change: .modified))
                    }
                }
            }
        }
        let order = Dictionary(uniqueKeysWithValues: XDSTypeRegistry.standard.pushOrder.enumerated().map { ($1.typeURL, $0) })
        return result.sorted {
            let a = (order[$0.typeURL] ?? order.count, $0.typeURL, $0.name)
            let b = (order[$1.typeURL] ?? order.count, $1.typeURL, $1.name)
            return a < b
        }
    }

    /// The names of `snapshot` a proxy with `subscriptions` holds, by type URL: every resource of
    /// a wildcard type, the subscribed names of a named one, and what those lead to in types it
    /// subscribes to (listener → route configurations, route → clusters, cluster → its
    /// endpoints), since the proxy asks for those next. Everything when `subscriptions` is nil.
    static func held(_ snapshot: ProxySnapshot, subscriptions: [String: ResourceSubscription]?) -> [String: Set<String>] {
        guard let subscriptions else { return snapshot.resources.mapValues { Set($0.keys) } }
        var held: [String: Set<String>] = [:]
        var pending: [(typeURL: String, name: String)] = []
        func hold(_ typeURL: String, _ name: String) {
            guard subscriptions[typeURL] != nil, snapshot.of(typeURL)[name] != nil,
                held[typeURL, default: []].insert(name).inserted
            else { return }
            pending.append((typeURL, name))
        }
        for (typeURL, subscription) in subscriptions {
            switch subscription {
            case .all: for name in snapshot.of(typeURL).keys { hold(typeURL, name) }
            case .names(let names): for name in names { hold(typeURL, name) }
            }
        }
        while let (typeURL, name) = pending.popLast() {
            guard let resource = snapshot.of(typeURL)[name] else { continue }
            switch typeURL {
            case TypeURL.listener: for route in resource.dependencies { hold(TypeURL.route, route) }
            case TypeURL.route: for cluster in resource.dependencies { hold(TypeURL.cluster, cluster) }
            // EDS clusters name their endpoints after themselves (`eds_cluster_config.service_name`).
            case TypeURL.cluster: hold(TypeURL.endpoint, name)
            default: break
            }
        }
        return held
    }
}

import Translator

/// Every resource one proxy may receive at one PushContext, by type URL then name.
///
/// Immutable and shared: proxies with the same view key get the same snapshot value.
public struct ProxySnapshot: Sendable {
    /// The context version (store revision, platform generation) the resources were generated from.
    public let version: PushVersion
    /// The store revision the resources were generated from.
    public var revision: Int64 { version.revision }
    /// Resources by type URL, then by name.
    public let resources: [String: [String: XDSResource]]
    /// The view the resources were generated from (nil for hand-made snapshots in tests).
    public let view: ProxyView?

    public init(revision: Int64, resources: [String: [String: XDSResource]], view: ProxyView? = nil) {
        self.init(version: PushVersion(revision: revision), resources: resources, view: view)
    }

    /// A snapshot at `version`.
    public init(version: PushVersion, resources: [String: [String: XDSResource]], view: ProxyView? = nil) {
        self.version = version
        self.resources = resources
        self.view = view
    }

    /// Generates a snapshot for `view` with `generators` (one per type; the view's kind's, from
    /// the `GeneratorTable`).
    public init(view: ProxyView, push: PushContext, generators: [any ResourceGenerator]) {
        var resources: [String: [String: XDSResource]] = [:]
        for generator in generators {
            let generated = generator.generate(for: view, in: push)
            resources[generator.typeURL] = Dictionary(generated.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        }
        self.init(version: push.version, resources: resources, view: view)
    }

    /// Generates the snapshot of `proxy`'s view at `push` with `table`'s generators for its kind
    /// (tests and benchmarks; the push server goes through `SnapshotCache`).
    public init(proxy: Proxy, push: PushContext, table: GeneratorTable) {
        self.init(view: ProxyView(key: push.viewKey(for: proxy), push: push), push: push, generators: table.generators(for: proxy.kind))
    }

    /// `previous` brought up to `push` for the view `key` when `push.scope` says only some
    /// hosts' endpoints changed since `previous.version`: host-scoped generators (EDS, and CDS
    /// whose mTLS settings name endpoint identities) regenerate those of the hosts the view sees
    /// — none when the change is outside the view, so the snapshot's content stays the same and
    /// no stream sends anything — and every other resource is shared with `previous`. The view
    /// is reused: an endpoint-only change touches no service, routing rule or Sidecar. Falls
    /// back to a full generation otherwise. Resource names are stable under such a change, so
    /// replacing by name is complete.
    public init(updating previous: ProxySnapshot, key: ViewKey, push: PushContext, generators: [any ResourceGenerator]) {
        guard case .endpoints(let since, let hosts) = push.scope, since == previous.version,
            let view = previous.view, view.key == key
        else {
            self.init(view: ProxyView(key: key, push: push), push: push, generators: generators)
            return
        }
        let touched = hosts.filter { view.service($0) != nil }
        guard !touched.isEmpty else {
            self.init(version: push.version, resources: previous.resources, view: view)
            return
        }
        var resources = previous.resources
        for generator in generators {
            guard let scoped = generator as? any HostScopedGenerator else { continue }
            // Taken out of `resources` so the (large) dictionary is changed in place, not copied.
            var ofType = resources.removeValue(forKey: scoped.typeURL) ?? [:]
            for resource in scoped.generate(for: view, in: push, hosts: touched) {
                ofType[resource.name] = resource
            }
            resources[scoped.typeURL] = ofType
        }
        self.init(version: push.version, resources: resources, view: view)
    }

    /// The resources of one type (empty when none).
    public func of(_ typeURL: String) -> [String: XDSResource] { resources[typeURL] ?? [:] }
}

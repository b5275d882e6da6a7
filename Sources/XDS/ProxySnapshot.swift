import Translator

/// Every resource one proxy may receive at one PushContext, by type URL then name.
///
/// Immutable and shared: proxies with the same generation key get the same snapshot value.
public struct ProxySnapshot: Sendable {
    /// The store revision the resources were generated from.
    public let revision: Int64
    /// Resources by type URL, then by name.
    public let resources: [String: [String: XDSResource]]

    public init(revision: Int64, resources: [String: [String: XDSResource]]) {
        self.revision = revision
        self.resources = resources
    }

    /// Generates a snapshot with `generators` (one per type).
    public init(proxy: Proxy, push: PushContext, generators: [any ResourceGenerator] = Generators.all) {
        var resources: [String: [String: XDSResource]] = [:]
        for generator in generators {
            let generated = generator.generate(for: proxy, in: push)
            resources[generator.typeURL] = Dictionary(generated.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        }
        self.init(revision: push.revision, resources: resources)
    }

    /// `previous` brought up to `push` when `push.scope` says only some hosts' endpoints changed
    /// since `previous.revision`: host-scoped generators (EDS, and CDS whose mTLS settings name
    /// endpoint identities) regenerate those hosts; every other resource is shared with
    /// `previous`. Falls back to a full generation otherwise. An endpoint-only change adds or
    /// removes no service, so resource names are stable and replacing by name is complete.
    public init(updating previous: ProxySnapshot, proxy: Proxy, push: PushContext, generators: [any ResourceGenerator]) {
        guard case .endpoints(let since, let hosts) = push.scope, since == previous.revision else {
            self.init(proxy: proxy, push: push, generators: generators)
            return
        }
        var resources = previous.resources
        for generator in generators {
            guard let scoped = generator as? any HostScopedGenerator else { continue }
            // Taken out of `resources` so the (large) dictionary is changed in place, not copied.
            var ofType = resources.removeValue(forKey: scoped.typeURL) ?? [:]
            for resource in scoped.generate(for: proxy, in: push, hosts: hosts) {
                ofType[resource.name] = resource
            }
            resources[scoped.typeURL] = ofType
        }
        self.init(revision: push.revision, resources: resources)
    }

    /// The resources of one type (empty when none).
    public func of(_ typeURL: String) -> [String: XDSResource] { resources[typeURL] ?? [:] }
}

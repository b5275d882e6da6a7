import Synchronization
import Translator

/// Generates each proxy snapshot once per (generation key, PushContext revision) and shares it:
/// every proxyless client at one revision gets the same encoded bytes.
public final class SnapshotCache: Sendable {
    private let entries = Mutex<[String: ProxySnapshot]>([:])
    private let generators: [any ResourceGenerator]

    public init(generators: [any ResourceGenerator] = Generators.all) {
        self.generators = generators
    }

    /// The snapshot for `proxy` at `push`, generated on first use.
    public func snapshot(for proxy: Proxy, push: PushContext) -> ProxySnapshot {
        let key = proxy.generationKey
        if let cached = entries.withLock({ $0[key] }), cached.revision == push.revision { return cached }
        // Generated outside the lock: generators are pure, so a duplicate run is only wasted work.
        let snapshot = ProxySnapshot(proxy: proxy, push: push, generators: generators)
        entries.withLock { entries in
            if (entries[key]?.revision ?? -1) <= push.revision { entries[key] = snapshot }
        }
        return snapshot
    }
}

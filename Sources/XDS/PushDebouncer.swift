import Discovery
import Logging
import ServiceLifecycle
import Storage
import Translator

/// Turns store changes into published PushContexts: waits until the store has been quiet for
/// `quiet` (100 ms by default) or `maxDelay` (10 s) has passed since the first change, then
/// builds one context for the latest revision. Bursts of applies become one push.
public struct PushDebouncer: ServiceLifecycle.Service {
    private let store: any ConfigStore
    private let publisher: PushContextPublisher
    private let quiet: Duration
    private let maxDelay: Duration
    private let metrics: XDSMetrics?
    private let logger: Logger

    public init(store: any ConfigStore, publisher: PushContextPublisher, quiet: Duration = .milliseconds(100),
                maxDelay: Duration = .seconds(10), metrics: XDSMetrics? = nil, logger: Logger) {
        self.store = store
        self.publisher = publisher
        self.quiet = quiet
        self.maxDelay = maxDelay
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        // Subscribe before the first build so a change racing with it is not missed.
        let revisions = store.revisions()
        let first = try await buildAndPublish()
        try await cancelWhenGracefulShutdown {
            var published = first
            for await _ in revisions {
                let start = ContinuousClock.now
                var seen = try await store.currentRevision()
                // Sleep through the quiet period; start over while changes keep coming, up to maxDelay.
                while ContinuousClock.now - start < maxDelay {
                    try await Task.sleep(for: min(quiet, maxDelay - (ContinuousClock.now - start)))
                    let now = try await store.currentRevision()
                    if now == seen { break }
                    seen = now
                }
                if seen != published { published = try await buildAndPublish() }
            }
        }
    }

    /// Builds and publishes the context for the store's current revision; returns that revision.
    @discardableResult
    public func buildAndPublish() async throws -> Int64 {
        let snapshot = try await store.snapshot()
        let context = PushContextFactory.build(from: snapshot, logger: logger)
        let events = context.registry.events(since: publisher.current?.registry ?? RegistrySnapshot())
        for event in events { logger.debug("registry change", metadata: ["event": "\(event)"]) }
        publisher.publish(context)
        metrics?.revision.set(Int64(snapshot.revision))
        logger.info("published push context", metadata: [
            "revision": "\(snapshot.revision)", "services": "\(context.registry.services.count)",
            "warnings": "\(context.warnings.count)", "registry_events": "\(events.count)",
        ])
        return snapshot.revision
    }
}

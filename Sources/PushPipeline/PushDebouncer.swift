import Discovery
import Logging
import MeshModel
import ServiceLifecycle
import Storage
import Synchronization
import Translator

/// Turns store changes into published PushContexts: waits until the store has been quiet for
/// `quiet` (100 ms by default) or `maxDelay` (10 s) has passed since the first change, then
/// builds one context for the latest revision. Bursts of applies become one push.
///
/// Builds are incremental: a `ConfigIndex` keeps the typed configuration between pushes and the
/// store's keyed change feed (`ConfigStore.delta(after:)`) says which records to re-read and
/// re-validate; a change that touches only WorkloadEntries is marked `.endpoints` so snapshot
/// generation redoes only the touched services' endpoint (and mTLS cluster) resources.
///
/// Failures are contained: a store that cannot be read is logged, counted
/// (`meshd_push_context_build_failures`), named in `/ready`'s body and retried with exponential
/// backoff, while proxies keep the last configuration that was built. Only cancellation (a
/// graceful shutdown) ends the loop.
public struct PushDebouncer: ServiceLifecycle.Service {
    private let store: any ConfigStore
    private let publisher: PushContextPublisher
    private let quiet: Duration
    private let maxDelay: Duration
    private let metrics: XDSMetrics?
    private let health: ServingHealth
    private let backoff: Backoff
    private let logger: Logger
    /// The push loop's typed configuration, shared read-only with the write path.
    private let index: SharedConfigIndex
    /// Where the stored `Secret`s' key material is read from (none: credentials get no material).
    private let vault: (any CredentialVault)?
    /// The mesh settings contexts are built with; a change rebuilds as a store change does.
    private let settings: MeshSettingsSource?
    /// The platform registry (Kubernetes) merged into every context; an endpoint-only change
    /// there updates the previous context as a WorkloadEntry-only store change does.
    private let platform: PlatformRegistrySource?
    /// How long the first build waits for the platform registry's first complete state.
    private let platformSyncTimeout: Duration
    /// Whether the store holds its backend's configuration yet (the Kubernetes store: the
    /// history ledger records what the API server held at start); the first build waits for it.
    private let storeSynced: @Sendable () -> Bool

    /// Retry delays after a failed build: `initial`, doubling up to `maximum`.
    public struct Backoff: Sendable {
        public var initial: Duration
        public var maximum: Duration

        public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(10)) {
            self.initial = initial
            self.maximum = maximum
        }

        /// The delay before retry number `attempt` (1-based).
        func delay(attempt: Int) -> Duration {
            var delay = initial
            for _ in 1..<max(1, min(attempt, 30)) where delay < maximum { delay *= 2 }
            return min(delay, maximum)
        }
    }

    public init(
        store: any ConfigStore, publisher: PushContextPublisher, quiet: Duration = .milliseconds(100),
        maxDelay: Duration = .seconds(10), metrics: XDSMetrics? = nil, health: ServingHealth = ServingHealth(),
        backoff: Backoff = Backoff(), index: SharedConfigIndex = SharedConfigIndex(), vault: (any CredentialVault)? = nil,
        settings: MeshSettingsSource? = nil, platform: PlatformRegistrySource? = nil, platformSyncTimeout: Duration = .seconds(30),
        storeSynced: @escaping @Sendable () -> Bool = { true }, logger: Logger
    ) {
        self.storeSynced = storeSynced
        self.settings = settings
        self.platform = platform
        self.platformSyncTimeout = platformSyncTimeout
        self.index = index
        self.vault = vault
        self.store = store
        self.publisher = publisher
        self.quiet = quiet
        self.maxDelay = maxDelay
        self.metrics = metrics
        self.health = health
        self.backoff = backoff
        self.logger = logger
    }

    public func run() async throws {
        // Subscribe before the first build so a change racing with it is not missed.
        let revisions = store.revisions()
        let settingsChanges = settings?.changes()
        let platformChanges = platform?.changes()
        let (changes, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let forwarders = [
            Task {
                for await _ in revisions { continuation.yield() }
                continuation.finish()
            },
            Task { if let settingsChanges { for await _ in settingsChanges { continuation.yield() } } },
            Task { if let platformChanges { for await _ in platformChanges { continuation.yield() } } },
        ]
        defer { for task in forwarders { task.cancel() } }
        do {
            try await loop(changes)
        } catch is CancellationError {
            // Graceful shutdown cancels the loop wherever it waits (a debounce window, a retry
            // backoff): that is how it is meant to end, not a failure of meshd.
        }
    }

    private func loop(_ changes: AsyncStream<Void>) async throws {
        try await cancelWhenGracefulShutdown {
            try await waitForPlatformSync()
            var published = try await buildUntilPublished(previous: nil)
            var publishedGeneration = settings?.current.generation ?? 0
            var publishedPlatform = publisher.current?.platformGeneration ?? 0
            var machine = DebounceStateMachine<ContinuousClock.Instant>(quiet: quiet, maxDelay: maxDelay)
            for await _ in changes {
                var seen = await currentRevision() ?? published + 1
                var action = machine.changed(at: .now)
                // Changes that land while sleeping are noticed on waking (the store's revision
                // moved) and extend the quiet window from then.
                while case .wait(let deadline) = action {
                    try await Task.sleep(until: deadline, clock: .continuous)
                    let now = await currentRevision() ?? seen
                    if now != seen {
                        seen = now
                        action = machine.changed(at: .now)
                    } else {
                        action = machine.tick(at: .now)
                    }
                }
                let generation = settings?.current.generation ?? 0
                let platformGeneration = platform?.current.generation ?? 0
                if seen != published || generation != publishedGeneration || platformGeneration != publishedPlatform {
                    published = try await buildUntilPublished(previous: published)
                    publishedGeneration = generation
                    publishedPlatform = publisher.current?.platformGeneration ?? platformGeneration
                }
            }
        }
    }

    /// Holds the first build until the platform registry has its first complete state (as
    /// istiod waits for its informers) and the store holds its backend's configuration, at most
    /// `platformSyncTimeout`: a context without them would take services and routes away from
    /// every proxy that reconnects.
    private func waitForPlatformSync() async throws {
        let synced = { (self.platform?.isSynced ?? true) && self.storeSynced() }
        let deadline = ContinuousClock.now + platformSyncTimeout
        while !synced() {
            guard ContinuousClock.now < deadline else {
                logger.warning(
                    "the platform registry or the config store has not synced; building without their complete state",
                    metadata: ["waited": "\(platformSyncTimeout)"])
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The store's revision, or nil when it cannot be read (the build that follows will retry).
    private func currentRevision() async -> Int64? {
        try? await store.currentRevision()
    }

    /// Builds and publishes, retrying with backoff until a build succeeds; returns its revision.
    /// Throws only `CancellationError`.
    private func buildUntilPublished(previous: Int64?) async throws -> Int64 {
        var attempt = 0
        while true {
            do {
                let revision = try await buildAndPublish()
                if attempt > 0 { logger.notice("config store readable again; pushes resumed", metadata: ["revision": "\(revision)"]) }
                health.set("store", nil)
                return revision
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                attempt += 1
                metrics?.buildFailures.increment()
                let delay = backoff.delay(attempt: attempt)
                let serving = previous.map { "proxies keep revision \($0)" } ?? "no configuration built yet"
                health.set("store", "cannot read the config store (\(error)); \(serving); retrying")
                logger.error(
                    "building the push context failed; retrying",
                    metadata: [
                        "error": "\(error)", "attempt": "\(attempt)", "retry_in": "\(delay)",
                    ])
                try await Task.sleep(for: delay)
            }
        }
    }

    /// Builds and publishes the context for the store's current revision; returns that revision.
    @discardableResult
    public func buildAndPublish() async throws -> Int64 {
        let previous = publisher.current
        if let settings { index.update { $0.settings = settings.current } }
        let generation = index.update { $0.settings.generation }
        let taken = platform?.take(since: previous?.platformGeneration ?? -1)
        if let taken { index.update { $0.platform = taken.services } }
        let platformGeneration = index.update { $0.platform.generation }
        let context: PushContext
        let unknown: [ConfigWarning]
        let unhonoured: [ProxyKind: Int]
        // Only platform endpoints changed (a pod turned ready, a slice scaled) and the store did
        // not move: the previous context with those hosts' endpoints, pushed as EDS only.
        if let previous, previous.settings.generation == generation, case .endpoints(let hosts)? = taken?.change,
            index.update({ $0.revision }) == previous.revision, try await store.currentRevision() == previous.revision
        {
            let (registry, touched) = ConfigRegistry.updatingPlatformEndpoints(
                previous.registry, platform: index.update { $0.platform }, hosts: hosts)
            let updated = previous.replacing(
                revision: previous.revision, platformGeneration: platformGeneration, registry: registry, warnings: previous.warnings,
                invalid: previous.invalid, scope: .endpoints(since: previous.version, hosts: touched))
            return publish(updated, previous: previous, events: updated.scope.endpointEvents)
        }
        if let known = index.update({ $0.revision }), let delta = try await store.delta(after: known) {
            if delta.changes.isEmpty, let previous, previous.revision == known, previous.settings.generation == generation,
                previous.platformGeneration == platformGeneration
            {
                return known
            }
            // An endpoint-only change updates the previous context in place of a rebuild.
            if let previous, previous.settings.generation == generation, let updated = index.update({ $0.applyEndpoints(delta, previous: previous) })
            {
                return publish(updated, previous: previous, events: updated.scope.endpointEvents)
            }
            index.update { $0.apply(delta) }
            try await loadCredentialMaterial()
            (context, unknown, unhonoured) = index.update { index in
                (index.context(reusing: previous), index.unknownFieldWarnings, index.unhonouredFieldCounts)
            }
        } else {
            let snapshot = try await store.snapshot()
            index.update { $0.load(snapshot) }
            try await loadCredentialMaterial()
            (context, unknown, unhonoured) = index.update { index in
                (index.context(), index.unknownFieldWarnings, index.unhonouredFieldCounts)
            }
        }
        let events = context.registry.events(since: previous?.registry ?? RegistrySnapshot())
        reportUnknownFields(unknown)
        for kind in ProxyKind.allCases {
            metrics?.setUnhonouredFields(unhonoured[kind] ?? 0, for: kind)
        }
        return publish(context, previous: previous, events: events)
    }

    /// Reads from the vault the key material of stored `Secret`s the index does not hold yet
    /// (new or rotated credentials). A vault that cannot be read fails the build, which is
    /// retried; material the vault lacks is reported by the build as a warning.
    private func loadCredentialMaterial() async throws {
        let missing = index.update { $0.missingCredentials }
        var found: [CredentialMaterial] = []
        if let vault {
            for (key, digest) in missing {
                if let material = try await vault.material(namespace: key.namespace, name: key.name, digest: digest) { found.append(material) }
            }
        }
        index.update { $0.addCredentialMaterial(found) }
    }

    /// Reports, publishes and logs `context`; returns its revision.
    private func publish(_ context: PushContext, previous: PushContext?, events: [RegistryEvent]) -> Int64 {
        for event in events { logger.debug("registry change", metadata: ["event": "\(event)"]) }
        reportInvalid(context.invalid, previously: previous?.invalid)
        reportRejectedGatewayServers(context.rejectedGatewayServers, previously: previous?.rejectedGatewayServers)
        publisher.publish(context)
        health.markBuilt()
        metrics?.revision.set(Int64(context.revision))
        let scope = if case .endpoints = context.scope { "endpoints" } else { "full" }
        logger.info(
            "published push context",
            metadata: [
                "revision": "\(context.revision)", "services": "\(context.registry.services.count)",
                "warnings": "\(context.warnings.count)", "registry_events": "\(events.count)", "scope": "\(scope)",
            ])
        return context.revision
    }

    /// Stored spec fields outside Istio's schema (from before meshd refused them) are ignored
    /// and reported: logged at each full build that finds them, counted, listed in
    /// `/debug/push_status`. The resources themselves keep being pushed.
    private func reportUnknownFields(_ unknown: [ConfigWarning]) {
        metrics?.unknownFields.set(Int64(unknown.count))
        for warning in unknown.prefix(20) {
            logger.warning(
                "stored config has a field outside Istio's schema; it is ignored",
                metadata: [
                    "resource": "\(warning.key)", "field": "\(warning.field)",
                ])
        }
    }

    /// Gateway servers a merge skips are logged when first seen and counted; the apply answer
    /// and `/debug/push_status` name them.
    private func reportRejectedGatewayServers(_ rejected: [ConfigWarning], previously: [ConfigWarning]?) {
        let known = Set(previously ?? [])
        for warning in rejected where !known.contains(warning) {
            logger.warning(
                "gateway server skipped",
                metadata: ["resource": "\(warning.key)", "field": "\(warning.field)", "reason": "\(warning.message)"])
        }
        metrics?.rejectedGatewayServers.set(Int64(rejected.count))
    }

    /// Stored config that fails validation is left out of pushes; it is reported loudly — each
    /// one logged when first seen (so at start), counted, and named in `/ready` — because an
    /// operator must fix it, and it is never a reason to stop serving.
    private func reportInvalid(_ invalid: [ConfigWarning], previously: [ConfigWarning]?) {
        let known = Set(previously ?? [])
        for warning in invalid where !known.contains(warning) {
            logger.error(
                "stored config fails validation and is left out of pushes; fix or delete it",
                metadata: [
                    "resource": "\(warning.key)", "field": "\(warning.field)", "error": "\(warning.message)",
                ])
        }
        metrics?.invalidResources.set(Int64(invalid.count))
        health.set(
            "invalid-config",
            invalid.isEmpty
                ? nil
                : "\(invalid.count) stored resource(s) fail validation and are left out of pushes: "
                    + invalid.prefix(5).map(\.key.description).joined(separator: ", ")
                    + (invalid.count > 5 ? ", ..." : "") + " (see /debug/push_status)")
    }
}

import ServiceLifecycle

/// Runs a long-lived task as a lifecycle service, cancelled on graceful shutdown: the lone
/// SQLite meshd's singleton work, the canary gauges.
struct BackgroundService: Service {
    let work: @Sendable () async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown { await work() }
    }
}

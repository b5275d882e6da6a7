import Logging
import Prometheus
import Storage
import XDS

/// What the admin API reads and writes: the store (the only thing it changes), and the push
/// side's read-only views for status and debugging.
public struct AdminDependencies: Sendable {
    public var store: any ConfigStore
    public var publisher: PushContextPublisher
    public var statuses: ProxyStatusRegistry
    public var metrics: PrometheusCollectorRegistry
    public var logger: Logger

    public init(store: any ConfigStore, publisher: PushContextPublisher, statuses: ProxyStatusRegistry,
                metrics: PrometheusCollectorRegistry, logger: Logger) {
        self.store = store
        self.publisher = publisher
        self.statuses = statuses
        self.metrics = metrics
        self.logger = logger
    }
}

import MeshModel
import Prometheus
import Storage

/// The canaries' Prometheus metrics. The weight and phase gauges follow the store on every
/// replica (`observe`); the decisions counter counts the decisions this replica made, so it
/// moves on the replica driving the canaries.
public struct CanaryMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

    /// Metrics registered in `registry`.
    public init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    /// Sets the gauges of one canary from its status.
    public func observe(namespace: String, name: String, status: CanaryStatus?) {
        let labels = [("namespace", namespace), ("name", name)]
        registry.makeGauge(name: "meshd_canary_weight", labels: labels, help: "The weight a canary gives its new subset now.")
            .set(Double(status?.weight ?? 0))
        for phase in CanaryStatus.Phase.allCases {
            registry.makeGauge(
                name: "meshd_canary_phase", labels: labels + [("phase", phase.rawValue)], help: "1 for the phase a canary is in, else 0."
            ).set(status?.phase == phase ? 1.0 : 0.0)
        }
    }

    /// Counts one decision this replica made.
    public func decided(namespace: String, name: String, verb: CanaryStatus.Verb) {
        registry.makeCounter(
            name: "meshd_canary_decisions_total", labels: [("namespace", namespace), ("name", name), ("decision", verb.rawValue)],
            help: "Decisions the canaries driven by this meshd made, by kind."
        ).increment()
    }

    /// Keeps the gauges equal to the store's canaries until cancelled: at once, then after
    /// each change.
    public func follow(_ store: any ConfigStore) async {
        let revisions = store.revisions()
        await refresh(store)
        for await _ in revisions { await refresh(store) }
    }

    private func refresh(_ store: any ConfigStore) async {
        guard let canaries = try? await store.list(kind: .canary, namespace: nil) else { return }
        for stored in canaries {
            let key = stored.resource.key
            observe(namespace: key.namespace, name: key.name, status: CanaryCase.read(stored)?.status)
        }
    }
}

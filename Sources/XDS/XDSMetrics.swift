import Prometheus
import Translator

/// The push server's Prometheus metrics, with istiod's names so dashboards carry over.
public struct XDSMetrics: Sendable {
    /// `pilot_xds`: connected streams.
    public let connections: Gauge
    private let registry: PrometheusCollectorRegistry
    /// `pilot_proxy_convergence_time`: from a config change being published to a proxy's ACK of it.
    public let convergence: DurationHistogram
    /// `pilot_xds_push_time`: time to compute and write one push to one stream.
    public let pushTime: DurationHistogram
    /// `meshd_config_revision`: the store revision of the current PushContext.
    public let revision: Gauge

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        connections = registry.makeGauge(name: "pilot_xds", help: "Open xDS streams.")
        let buckets: [Duration] = [.milliseconds(10), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(3), .seconds(5), .seconds(10), .seconds(20), .seconds(30)]
        convergence = registry.makeDurationHistogram(name: "pilot_proxy_convergence_time", buckets: buckets,
                                                     help: "Seconds from a config change being published to a proxy acknowledging all of it.")
        pushTime = registry.makeDurationHistogram(name: "pilot_xds_push_time", buckets: buckets, help: "Seconds to compute and write one push to one stream.")
        revision = registry.makeGauge(name: "meshd_config_revision", help: "Store revision of the current PushContext.")
    }

    /// `pilot_xds_pushes{type}`: responses sent, by type.
    public func pushed(_ typeURL: String) {
        registry.makeCounter(name: "pilot_xds_pushes", labels: [("type", Self.label(typeURL))],
                             help: "xDS responses sent to proxies, by type.").increment()
    }

    /// `pilot_total_xds_rejects{type}`: NACKs received, by type.
    public func rejected(_ typeURL: String) {
        registry.makeCounter(name: "pilot_total_xds_rejects", labels: [("type", Self.label(typeURL))],
                             help: "xDS responses rejected (NACKed) by proxies, by type.").increment()
    }

    private static func label(_ typeURL: String) -> String {
        switch TypeURL.shortName(typeURL) {
        case "LDS": "lds"
        case "RDS": "rds"
        case "CDS": "cds"
        case "EDS": "eds"
        default: typeURL
        }
    }
}

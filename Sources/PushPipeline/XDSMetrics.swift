import MeshModel
import Prometheus
import Translator

/// The push server's Prometheus metrics, with istiod's names so dashboards carry over.
public struct XDSMetrics: Sendable {
    /// `pilot_xds`: connected streams.
    public let connections: Gauge
    private let registry: PrometheusCollectorRegistry
    /// The served xDS types: their short names are the `type` label values.
    private let types: XDSTypeRegistry
    /// `pilot_proxy_convergence_time`: from a config change being published to a proxy's ACK of it.
    public let convergence: DurationHistogram
    /// `pilot_xds_push_time`: time to compute and write one push to one stream.
    public let pushTime: DurationHistogram
    /// `meshd_config_revision`: the store revision of the current PushContext.
    public let revision: Gauge

    /// `meshd_xds_refused_streams`: streams refused because `--xds-max-streams` were open.
    public let refusedStreams: Counter
    /// `meshd_xds_unknown_type_requests`: requests for type URLs meshd does not serve.
    public let unknownTypeRequests: Counter
    /// `meshd_config_invalid_resources`: stored resources left out of pushes because they fail
    /// today's validation (written under older rules); see `/debug/push_status`.
    public let invalidResources: Gauge
    /// `meshd_config_unknown_fields`: spec fields outside Istio's schema in stored resources
    /// (written before meshd refused them); they are ignored, see `/debug/push_status`.
    public let unknownFields: Gauge
    /// `meshd_gateway_servers_rejected`: Gateway servers skipped because they conflict with an
    /// older server on the same port (istiod counts them in `pilot_total_rejected_configs`);
    /// see `/debug/push_status`.
    public let rejectedGatewayServers: Gauge
    /// `meshd_push_context_build_failures`: failed attempts to read the store and build a
    /// PushContext (retried with backoff; proxies keep the last good configuration).
    public let buildFailures: Counter

    public init(registry: PrometheusCollectorRegistry, types: XDSTypeRegistry = .standard) {
        self.types = types
        self.registry = registry
        connections = registry.makeGauge(name: "pilot_xds", help: "Open xDS streams.")
        let buckets: [Duration] = [
            .milliseconds(10), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(3), .seconds(5), .seconds(10), .seconds(20),
            .seconds(30),
        ]
        convergence = registry.makeDurationHistogram(
            name: "pilot_proxy_convergence_time", buckets: buckets,
            help: "Seconds from a config change being published to a proxy acknowledging all of it.")
        pushTime = registry.makeDurationHistogram(
            name: "pilot_xds_push_time", buckets: buckets, help: "Seconds to compute and write one push to one stream.")
        revision = registry.makeGauge(name: "meshd_config_revision", help: "Store revision of the current PushContext.")
        refusedStreams = registry.makeCounter(name: "meshd_xds_refused_streams", help: "xDS streams refused because the stream limit was reached.")
        unknownTypeRequests = registry.makeCounter(name: "meshd_xds_unknown_type_requests", help: "xDS requests for type URLs meshd does not serve.")
        unknownFields = registry.makeGauge(
            name: "meshd_config_unknown_fields", help: "Spec fields outside Istio's schema in stored resources (ignored).")
        invalidResources = registry.makeGauge(
            name: "meshd_config_invalid_resources", help: "Stored resources left out of pushes because they fail validation.")
        rejectedGatewayServers = registry.makeGauge(
            name: "meshd_gateway_servers_rejected", help: "Gateway servers skipped because they conflict with an older server on their port.")
        buildFailures = registry.makeCounter(
            name: "meshd_push_context_build_failures", help: "Failed attempts to build a PushContext from the store (retried).")
    }

    /// `pilot_xds_pushes{type}`: responses sent, by type.
    public func pushed(_ typeURL: String) {
        registry.makeCounter(
            name: "pilot_xds_pushes", labels: [("type", label(typeURL))],
            help: "xDS responses sent to proxies, by type."
        ).increment()
    }

    /// `meshd_config_unhonoured_fields{proxy_kind}`: fields of stored resources that this kind
    /// of proxy does not honour as written (not honoured, or substituted), see
    /// `/debug/push_status` `unhonouredFields`.
    public func setUnhonouredFields(_ count: Int, for kind: ProxyKind) {
        registry.makeGauge(
            name: "meshd_config_unhonoured_fields", labels: [("proxy_kind", kind.rawValue)],
            help: "Fields of stored resources a kind of proxy does not honour as written (not honoured or substituted)."
        )
        .set(Int64(count))
    }

    /// `pilot_total_xds_rejects{type}`: NACKs received, by type.
    public func rejected(_ typeURL: String) {
        registry.makeCounter(
            name: "pilot_total_xds_rejects", labels: [("type", label(typeURL))],
            help: "xDS responses rejected (NACKed) by proxies, by type."
        ).increment()
    }

    /// The type's short name in lower case (`cds`, `lds`…). Type URLs come from unauthenticated
    /// clients: one value, `other`, stands for every type not served, so they cannot grow the
    /// metric without bound.
    private func label(_ typeURL: String) -> String {
        types.type(typeURL)?.shortName.lowercased() ?? "other"
    }
}

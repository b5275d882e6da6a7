/// The PromQL meshd asks Prometheus, per source and measure. Every answer is a vector whose
/// samples carry `meshd_host` and `meshd_subset` (the destination subset; empty for a cluster
/// without one), so the report reads every source the same way.
///
/// - `client` and `envoy` name the destination in one label holding the cluster name,
///   `outbound|PORT|SUBSET|HOST` (gRPC's `csm_service_name`, which meshd sets through
///   `com.google.csm.telemetry_labels`; Envoy's `envoy_cluster_name`): the host and subset are
///   cut out of it with `label_replace`, and ports are summed.
/// - `destination` selects each subset's workloads by their labels (the service's namespace,
///   its application label, the subset's labels) and tags the sum with host and subset.
public struct TrafficQuery: Sendable, Hashable {
    /// What a query measures.
    public enum Measure: String, Sendable, CaseIterable {
        /// Requests (or RPC attempts) per second.
        case requests
        /// Failed requests per second: a gRPC status other than OK, or an HTTP 5xx.
        case errors
        /// The median latency, in milliseconds.
        case p50
        /// The 99th percentile latency, in milliseconds.
        case p99
    }

    public var source: TrafficSource
    public var measure: Measure
    /// The PromQL text.
    public var text: String

    /// The label names the answers carry.
    static let hostLabel = "meshd_host"
    static let subsetLabel = "meshd_subset"

    /// Every query for `services` over `window`: one per source and measure. With `everyHost`
    /// the cluster-named sources match any host (a shorter query when `services` is the mesh).
    public static func all(for services: [TrafficService], window: TrafficWindow, everyHost: Bool = false) -> [TrafficQuery] {
        TrafficSource.allCases.flatMap { source in
            Measure.allCases.compactMap { measure in
                let series = source.series
                let text: String? =
                    switch series.destination {
                    case .clusterLabel(let label):
                        clusterQuery(series, label: label, measure: measure, hosts: everyHost ? nil : services.map(\.host), window: window)
                    case .workloadLabels(let namespaceLabel):
                        workloadQuery(series, namespaceLabel: namespaceLabel, measure: measure, services: services, window: window)
                    }
                return text.map { TrafficQuery(source: source, measure: measure, text: $0) }
            }
        }
    }

    /// A query over series named by cluster: the rate (or quantile) summed per host and subset.
    static func clusterQuery(_ series: SourceSeries, label: String, measure: Measure, hosts: [String]?, window: TrafficWindow) -> String {
        let hostPattern: String
        if let hosts {
            // An empty host list must match nothing, not everything.
            hostPattern = hosts.isEmpty ? "\\x00" : "(" + hosts.map(PromQL.literalRegex).joined(separator: "|") + ")"
        } else {
            hostPattern = ".+"
        }
        let (metric, extra) = series.metric(for: measure)
        let matchers = ["\(label)=~" + PromQL.string("outbound\\|[0-9]+\\|[^|]*\\|" + hostPattern)] + extra
        var expression = "rate(\(metric)\(PromQL.selector(matchers))\(window.range))"
        expression =
            "label_replace(\(expression), \(PromQL.string(subsetLabel)), \"$1\", \(PromQL.string(label)), "
            + PromQL.string("outbound\\|[0-9]+\\|([^|]*)\\|.*") + ")"
        expression =
            "label_replace(\(expression), \(PromQL.string(hostLabel)), \"$1\", \(PromQL.string(label)), "
            + PromQL.string("outbound\\|[0-9]+\\|[^|]*\\|(.*)") + ")"
        switch measure {
        case .requests, .errors: return "sum by (\(hostLabel), \(subsetLabel)) (\(expression))"
        case .p50, .p99: return series.quantile(measure, of: expression, by: [hostLabel, subsetLabel])
        }
    }

    /// A query over the workloads' own series: one sum per service and subset, tagged with both.
    /// nil when no service's workloads can be told apart (no shared application label).
    static func workloadQuery(
        _ series: SourceSeries, namespaceLabel: String, measure: Measure, services: [TrafficService], window: TrafficWindow
    ) -> String? {
        var parts: [String] = []
        for service in services {
            guard let application = service.application else { continue }
            let subsets = service.subsets.isEmpty ? [TrafficService.Subset(name: "", labels: [:])] : service.subsets
            for subset in subsets {
                var labels = [namespaceLabel: service.namespace, PromQL.labelName(application.key): application.value]
                for (key, value) in subset.labels { labels[PromQL.labelName(key)] = value }
                let (metric, extra) = series.metric(for: measure)
                let matchers = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\(PromQL.string($0.value))" } + extra
                let rate = "rate(\(metric)\(PromQL.selector(matchers))\(window.range))"
                let expression: String
                switch measure {
                case .requests, .errors: expression = "sum(\(rate))"
                case .p50, .p99: expression = series.quantile(measure, of: rate, by: [])
                }
                parts.append(PromQL.withLabel(PromQL.withLabel(expression, subsetLabel, subset.name), hostLabel, service.host))
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: " or ")
    }
}

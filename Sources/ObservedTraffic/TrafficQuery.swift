import MeshModel

/// The PromQL meshd asks Prometheus, per source and measure: nine queries whatever the number
/// of services (three sources × requests, errors, latency buckets), each one selector summed by
/// the labels that name a destination, so Prometheus' cost grows with the series it reads and
/// not with the services asked about.
///
/// - `client` and `envoy` name the destination in one label holding the cluster name,
///   `outbound|PORT|SUBSET|HOST` (gRPC's `csm_service_name`, which meshd sets through
///   `com.google.csm.telemetry_labels`; Envoy's `envoy_cluster_name`): host and subset are cut
///   out of it with `label_replace` into `meshd_host` / `meshd_subset`, and ports are summed.
/// - `destination` sums the workloads' own series by namespace and by every label a service's
///   application or subset is told by; `attribute(_:to:)` then adds each group to the subsets
///   whose labels it carries.
/// - Latency is read as bucket rates (`le`) and its quantiles worked out by `HistogramQuantile`
///   exactly as `histogram_quantile` does: one bucket query serves p50 and p99, where two
///   `histogram_quantile` queries would each compute every bucket's rate.
public struct TrafficQuery: Sendable, Hashable {
    /// What a query measures.
    public enum Measure: String, Sendable, CaseIterable {
        /// Requests (or RPC attempts) per second.
        case requests
        /// Failed requests per second: a gRPC status other than OK, or an HTTP 5xx.
        case errors
        /// The latency histogram's bucket rates, per `le` (in the source's unit).
        case latency
    }

    public var source: TrafficSource
    public var measure: Measure
    /// The PromQL text.
    public var text: String

    /// The label names the answers carry.
    static let hostLabel = "meshd_host"
    static let subsetLabel = "meshd_subset"

    /// Every query for `services` over `window`: one per source and measure. With `everyHost`
    /// the queries match any host and namespace (shorter when `services` is the mesh).
    public static func all(for services: [TrafficService], window: TrafficWindow, everyHost: Bool = false) -> [TrafficQuery] {
        TrafficSource.allCases.flatMap { source in
            Measure.allCases.compactMap { measure in
                let series = source.series
                let text: String? =
                    switch series.destination {
                    case .clusterLabel(let label):
                        clusterQuery(series, label: label, measure: measure, hosts: everyHost ? nil : services.map(\.host), window: window)
                    case .workloadLabels(let namespaceLabel):
                        workloadQuery(
                            series, namespaceLabel: namespaceLabel, measure: measure, services: services, everyHost: everyHost, window: window)
                    }
                return text.map { TrafficQuery(source: source, measure: measure, text: $0) }
            }
        }
    }

    /// A query over series named by cluster: the rate summed per host and subset (and `le`).
    static func clusterQuery(_ series: SourceSeries, label: String, measure: Measure, hosts: [String]?, window: TrafficWindow) -> String {
        let hostPattern: String
        if let hosts {
            // An empty host list must match nothing, not everything.
            hostPattern = hosts.isEmpty ? "\\x00" : "(" + hosts.map(RegexSyntax.literal).joined(separator: "|") + ")"
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
        let by = [hostLabel, subsetLabel] + (measure == .latency ? ["le"] : [])
        return "sum by (\(by.joined(separator: ", "))) (\(expression))"
    }

    /// A query over the workloads' own series, summed by namespace and by every label the
    /// services' applications and subsets are told by (and `le`); nil when no service's
    /// workloads can be told apart (no shared application label).
    static func workloadQuery(
        _ series: SourceSeries, namespaceLabel: String, measure: Measure, services: [TrafficService], everyHost: Bool,
        window: TrafficWindow
    ) -> String? {
        let readable = services.filter { $0.application != nil }
        guard !readable.isEmpty else { return nil }
        let keys = groupingLabels(of: readable)
        var matchers: [String] = []
        if !everyHost {
            let namespaces = Set(readable.map(\.namespace)).sorted().map(RegexSyntax.literal)
            matchers.append("\(namespaceLabel)=~" + PromQL.string("(" + namespaces.joined(separator: "|") + ")"))
            // The services' applications too when they are told by one label (the usual case):
            // a namespace of many services must not be read whole to answer for one.
            let keys = Set(readable.compactMap { $0.application.map { PromQL.labelName($0.key) } })
            if keys.count == 1, let key = keys.first {
                let values = Set(readable.compactMap { $0.application?.value }).sorted().map(RegexSyntax.literal)
                matchers.append("\(key)=~" + PromQL.string("(" + values.joined(separator: "|") + ")"))
            }
        }
        let (metric, extra) = series.metric(for: measure)
        let by = [namespaceLabel] + keys + (measure == .latency ? ["le"] : [])
        return "sum by (\(by.joined(separator: ", "))) (rate(\(metric)\(PromQL.selector(matchers + extra))\(window.range)))"
    }

    /// The Prometheus label names the destination side groups by: every service's application
    /// label and every subset label, sanitized, sorted.
    static func groupingLabels(of services: [TrafficService]) -> [String] {
        var keys: Set<String> = []
        for service in services {
            if let application = service.application { keys.insert(PromQL.labelName(application.key)) }
            for subset in service.subsets { keys.formUnion(subset.labels.keys.map(PromQL.labelName)) }
        }
        keys.remove("namespace")
        keys.remove("le")
        return keys.sorted()
    }

    /// The destination side's groups as samples of `meshd_host` / `meshd_subset`: each group is
    /// added to every subset of every service it belongs to (its namespace, its application
    /// label's value, the subset's labels; a service without subsets takes it as subset "").
    static func attribute(_ samples: [PrometheusSample], to services: [TrafficService], namespaceLabel: String) -> [PrometheusSample] {
        // Services by namespace and application, so a group is matched against its own only.
        var byApplication: [String: [TrafficService]] = [:]
        for service in services {
            guard let application = service.application else { continue }
            byApplication["\(service.namespace)\u{0}\(PromQL.labelName(application.key))\u{0}\(application.value)", default: []].append(service)
        }
        let applicationKeys = Set(services.compactMap { $0.application.map { PromQL.labelName($0.key) } }).sorted()
        var attributed: [PrometheusSample] = []
        for sample in samples {
            let namespace = sample.labels[namespaceLabel] ?? ""
            for key in applicationKeys {
                guard let value = sample.labels[key] else { continue }
                for service in byApplication["\(namespace)\u{0}\(key)\u{0}\(value)"] ?? [] {
                    let subsets = service.subsets.isEmpty ? [TrafficService.Subset(name: "", labels: [:])] : service.subsets
                    for subset in subsets where subset.labels.allSatisfy({ sample.labels[PromQL.labelName($0.key)] == $0.value }) {
                        var labels = [hostLabel: service.host, subsetLabel: subset.name]
                        if let le = sample.labels["le"] { labels["le"] = le }
                        attributed.append(PrometheusSample(labels: labels, value: sample.value))
                    }
                }
            }
        }
        return attributed
    }
}

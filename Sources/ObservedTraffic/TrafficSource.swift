/// Where a reading of traffic comes from, and the series it is read from.
public enum TrafficSource: String, Sendable, CaseIterable, Hashable {
    /// Proxyless gRPC clients: gRPC's OpenTelemetry client metrics, labelled by its CSM plugin
    /// with the cluster an attempt went through.
    case client
    /// The destination workloads: gRPC's OpenTelemetry server metrics, with the workloads'
    /// labels attached by the scrape configuration.
    case destination
    /// Envoy sidecars and gateways: their cluster statistics (scraped on 15090).
    case envoy

    /// How this source's series are read.
    var series: SourceSeries {
        switch self {
        case .client:
            SourceSeries(
                destination: .clusterLabel("csm_service_name"), count: "grpc_client_attempt_duration_seconds_count",
                errorMatcher: "grpc_status!=\"OK\"", bucket: "grpc_client_attempt_duration_seconds_bucket", millisecondsPerUnit: 1000)
        case .destination:
            SourceSeries(
                destination: .workloadLabels(namespaceLabel: "namespace"), count: "grpc_server_call_duration_seconds_count",
                errorMatcher: "grpc_status!=\"OK\"", bucket: "grpc_server_call_duration_seconds_bucket", millisecondsPerUnit: 1000)
        case .envoy:
            // Envoy counts requests by response code class; every class summed is every request.
            SourceSeries(
                destination: .clusterLabel("envoy_cluster_name"), count: "envoy_cluster_upstream_rq_xx",
                errorMatcher: "envoy_response_code_class=\"5\"", bucket: "envoy_cluster_upstream_rq_time_bucket", millisecondsPerUnit: 1)
        }
    }
}

/// The series of one source: how they name the destination, and the metrics of each measure.
struct SourceSeries: Hashable {
    /// How a series names its destination.
    enum Destination: Hashable {
        /// A label holding the cluster name, `outbound|PORT|SUBSET|HOST`.
        case clusterLabel(String)
        /// The workload's own labels, with its namespace in `namespaceLabel`.
        case workloadLabels(namespaceLabel: String)
    }

    var destination: Destination
    /// The counter (or histogram count) whose rate is requests per second.
    var count: String
    /// The matcher that keeps only failed requests.
    var errorMatcher: String
    /// The latency histogram's buckets.
    var bucket: String
    /// Milliseconds per unit of the histogram (1000 for seconds).
    var millisecondsPerUnit: Double

    /// The metric `measure` is read from, and the matchers it adds.
    func metric(for measure: TrafficQuery.Measure) -> (name: String, matchers: [String]) {
        switch measure {
        case .requests: (count, [])
        case .errors: (count, [errorMatcher])
        case .latency: (bucket, [])
        }
    }
}

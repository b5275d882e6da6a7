import MeshModel

/// The observed traffic of services, per source and destination subset, as `/api/v1/traffic`
/// answers it: built from the answers to `TrafficQuery.all` (pure, so every rule is testable).
public struct TrafficReport: Sendable {
    /// One destination subset as one source saw it.
    public struct Row: Sendable, Hashable {
        /// The subset; empty for a cluster without one.
        public var subset: String
        public var requestsPerSecond: Double
        /// This subset's part of the host's requests in this source, in percent; nil with none.
        public var sharePercent: Double?
        /// Failed requests in percent of this subset's; nil with no requests.
        public var errorPercent: Double?
        public var p50Ms: Double?
        public var p99Ms: Double?
        /// The configured weight (nil: the host has no VirtualService).
        public var weight: Int?
    }

    /// One service: its configured weights and what each source saw.
    public struct ServiceTraffic: Sendable {
        public var host: String
        public var namespace: String
        public var weights: [String: Int]?
        /// Rows per source; a source with no series for the host has none.
        public var sources: [TrafficSource: [Row]]
        /// Why a source could not be read for this service (the destination side without a
        /// shared application label).
        public var notes: [TrafficSource: String]
    }

    public var window: TrafficWindow
    public var prometheus: String
    public var services: [ServiceTraffic]

    /// The report of `services` from `answers` (the samples of each query).
    public static func make(
        services: [TrafficService], window: TrafficWindow, prometheus: String, answers: [TrafficQuery: [PrometheusSample]]
    ) -> TrafficReport {
        var readings: [TrafficSource: Readings] = [:]
        for (query, samples) in answers {
            let series = query.source.series
            var named = samples
            if case .workloadLabels(let namespaceLabel) = series.destination {
                named = TrafficQuery.attribute(samples, to: services, namespaceLabel: namespaceLabel)
            }
            readings[query.source, default: Readings()].add(named, measure: query.measure, millisecondsPerUnit: series.millisecondsPerUnit)
        }
        let traffic = services.map { service in
            var sources: [TrafficSource: [Row]] = [:]
            var notes: [TrafficSource: String] = [:]
            for source in TrafficSource.allCases {
                sources[source] = rows(of: service, in: readings[source] ?? Readings())
            }
            if service.application == nil {
                notes[.destination] =
                    "the service's workloads share none of the labels \(WorkloadIdentity.keys.joined(separator: ", ")), "
                    + "so their own series cannot be told from other workloads'"
            }
            return ServiceTraffic(host: service.host, namespace: service.namespace, weights: service.weights, sources: sources, notes: notes)
        }
        return TrafficReport(window: window, prometheus: prometheus, services: traffic)
    }

    /// One source's answers by host and subset: rates, and latency buckets in milliseconds.
    struct Readings {
        var requests: [String: [String: Double]] = [:]
        var errors: [String: [String: Double]] = [:]
        var buckets: [String: [String: [Double: Double]]] = [:]

        mutating func add(_ samples: [PrometheusSample], measure: TrafficQuery.Measure, millisecondsPerUnit: Double) {
            for sample in samples {
                guard let host = sample.labels[TrafficQuery.hostLabel], sample.value.isFinite else { continue }
                let subset = sample.labels[TrafficQuery.subsetLabel] ?? ""
                switch measure {
                case .requests: requests[host, default: [:]][subset, default: 0] += sample.value
                case .errors: errors[host, default: [:]][subset, default: 0] += sample.value
                case .latency:
                    guard let text = sample.labels["le"], let bound = PrometheusClient.number(text) else { continue }
                    let milliseconds = bound.isFinite ? bound * millisecondsPerUnit : bound
                    buckets[host, default: [:]][subset, default: [:]][milliseconds, default: 0] += sample.value
                }
            }
        }

        func quantile(_ q: Double, host: String, subset: String) -> Double? {
            guard let buckets = buckets[host]?[subset] else { return nil }
            return HistogramQuantile.quantile(q, buckets: buckets.map { (le: $0.key, count: $0.value) })
        }
    }

    /// The rows of `service` in one source: every subset seen there, and every subset of the
    /// rule (so a configured subset taking nothing shows as 0); none when the source saw nothing
    /// of the host.
    static func rows(of service: TrafficService, in readings: Readings) -> [Row] {
        guard let requests = readings.requests[service.host] else { return [] }
        var subsets = service.subsets.map(\.name)
        for seen in requests.keys.sorted() where !subsets.contains(seen) { subsets.append(seen) }
        let total = requests.values.reduce(0, +)
        return subsets.map { subset in
            let rate = requests[subset] ?? 0
            let errors = readings.errors[service.host]?[subset] ?? 0
            return Row(
                subset: subset, requestsPerSecond: rate,
                sharePercent: total > 0 ? rate / total * 100 : nil,
                errorPercent: rate > 0 ? min(100, errors / rate * 100) : nil,
                p50Ms: readings.quantile(0.5, host: service.host, subset: subset),
                p99Ms: readings.quantile(0.99, host: service.host, subset: subset),
                weight: service.weights.map { $0[subset] ?? 0 })
        }
    }

    /// The answer's JSON (docs/observed-traffic.md gives the shape); numbers to 3 decimals.
    public var json: JSONValue {
        func number(_ value: Double?) -> JSONValue {
            guard let value else { return .null }
            return .number((value * 1000).rounded() / 1000)
        }
        return .object([
            "window": .string(window.description),
            "prometheus": .string(prometheus),
            "services": .array(
                services.map { service in
                    var sources: [String: JSONValue] = [:]
                    for source in TrafficSource.allCases {
                        let rows = service.sources[source] ?? []
                        var members: [String: JSONValue] = [
                            "requestsPerSecond": number(rows.reduce(0) { $0 + $1.requestsPerSecond }),
                            "rows": .array(
                                rows.map { row in
                                    .object([
                                        "subset": .string(row.subset), "requestsPerSecond": number(row.requestsPerSecond),
                                        "sharePercent": number(row.sharePercent), "errorPercent": number(row.errorPercent),
                                        "p50Ms": number(row.p50Ms), "p99Ms": number(row.p99Ms),
                                        "weight": row.weight.map { .number(Double($0)) } ?? .null,
                                    ])
                                }),
                        ]
                        if let note = service.notes[source] { members["note"] = .string(note) }
                        sources[source.rawValue] = .object(members)
                    }
                    return .object([
                        "host": .string(service.host), "namespace": .string(service.namespace),
                        "weights": service.weights.map { .object($0.mapValues { .number(Double($0)) }) } ?? .null,
                        "sources": .object(sources),
                    ])
                }),
        ])
    }
}

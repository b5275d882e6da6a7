import MeshModel
import Testing

@testable import ObservedTraffic

/// The report built from Prometheus' answers: shares within a source, error rates, quantiles,
/// configured weights, and what a source that saw nothing looks like.
@Suite struct TrafficReportTests {
    static let host = "reviews.default.svc.cluster.local"

    static func sample(_ subset: String, _ value: Double, host: String = host) -> PrometheusSample {
        PrometheusSample(labels: ["meshd_host": host, "meshd_subset": subset], value: value)
    }

    static func answers(_ source: TrafficSource, _ values: [TrafficQuery.Measure: [PrometheusSample]]) -> [TrafficQuery: [PrometheusSample]] {
        var answers: [TrafficQuery: [PrometheusSample]] = [:]
        for (measure, samples) in values {
            answers[TrafficQuery(source: source, measure: measure, text: "\(source)-\(measure)")] = samples
        }
        return answers
    }

    static func bucket(_ subset: String, _ le: String, _ value: Double) -> PrometheusSample {
        PrometheusSample(labels: ["meshd_host": host, "meshd_subset": subset, "le": le], value: value)
    }

    @Test func sharesErrorsAndLatencyPerSubset() throws {
        let answers = Self.answers(
            .client,
            [
                .requests: [Self.sample("v1", 48), Self.sample("v2", 12)],
                .errors: [Self.sample("v2", 3.6)],
                // v1: half under 1 ms, all under 2 ms (seconds, as gRPC's histograms are); v2: none.
                .latency: [Self.bucket("v1", "0.001", 24), Self.bucket("v1", "0.002", 48), Self.bucket("v1", "+Inf", 48)],
            ])
        let report = TrafficReport.make(
            services: [TrafficQueryTests.reviews], window: .standard, prometheus: "http://p:9090", answers: answers)
        let rows = try #require(report.services.first?.sources[.client])
        #expect(rows.map(\.subset) == ["v1", "v2"])
        #expect(rows[0].sharePercent == 80)
        #expect(rows[1].sharePercent == 20)
        #expect(rows[0].errorPercent == 0)
        #expect(abs((rows[1].errorPercent ?? 0) - 30) < 1e-9)
        #expect(rows[0].p50Ms == 1)
        #expect(abs((rows[0].p99Ms ?? 0) - 1.98) < 1e-9)
        #expect(rows[1].p50Ms == nil && rows[1].p99Ms == nil)
        #expect(rows.map(\.weight) == [50, 50])
        #expect(report.services.first?.sources[.envoy] == [])
    }

    @Test func envoyBucketsAreMillisecondsAlready() throws {
        let answers = Self.answers(
            .envoy,
            [.requests: [Self.sample("v1", 10)], .latency: [Self.bucket("v1", "5", 5), Self.bucket("v1", "10", 10), Self.bucket("v1", "+Inf", 10)]])
        let report = TrafficReport.make(services: [TrafficQueryTests.reviews], window: .standard, prometheus: "p", answers: answers)
        #expect(report.services.first?.sources[.envoy]?.first?.p50Ms == 5)
    }

    /// histogram_quantile's arithmetic, case by case.
    @Test func quantilesFollowPrometheus() {
        func q(_ q: Double, _ buckets: [(Double, Double)]) -> Double? {
            HistogramQuantile.quantile(q, buckets: buckets.map { (le: $0.0, count: $0.1) })
        }
        #expect(q(0.5, [(1, 10), (2, 20), (.infinity, 20)]) == 1)
        #expect(q(0.75, [(1, 10), (2, 20), (.infinity, 20)]) == 1.5)
        // A rank in the first bucket interpolates from 0.
        #expect(q(0.25, [(4, 10), (.infinity, 10)]) == 1)
        // In the +Inf bucket: the highest finite bound.
        #expect(q(0.99, [(1, 10), (2, 10), (.infinity, 20)]) == 2)
        // Counts are made cumulative; unsorted input is sorted.
        #expect(q(0.5, [(.infinity, 20), (2, 9), (1, 10)]) == 1)
        // Nothing counted, no +Inf bucket, a single bucket, a q outside [0, 1]: no answer.
        #expect(q(0.5, [(1, 0), (.infinity, 0)]) == nil)
        #expect(q(0.5, [(1, 10), (2, 20)]) == nil)
        #expect(q(0.5, [(.infinity, 20)]) == nil)
        #expect(q(1.5, [(1, 10), (.infinity, 10)]) == nil)
    }

    @Test func aConfiguredSubsetTakingNothingShowsAsZeroAndOtherClustersAppear() throws {
        let answers = Self.answers(.envoy, [.requests: [Self.sample("v1", 10), Self.sample("", 10)]])
        let report = TrafficReport.make(services: [TrafficQueryTests.reviews], window: .standard, prometheus: "p", answers: answers)
        let rows = try #require(report.services.first?.sources[.envoy])
        #expect(rows.map(\.subset) == ["v1", "v2", ""])
        #expect(rows.map(\.sharePercent) == [50, 0, 50])
        #expect(rows[1].errorPercent == nil)
        #expect(rows[2].weight == 0)
    }

    @Test func samplesOfOtherHostsAreNotCounted() throws {
        let answers = Self.answers(.client, [.requests: [Self.sample("v1", 10), Self.sample("v1", 90, host: "ratings.default.svc.cluster.local")]])
        let report = TrafficReport.make(services: [TrafficQueryTests.reviews], window: .standard, prometheus: "p", answers: answers)
        #expect(report.services.first?.sources[.client]?.first?.sharePercent == 100)
    }

    @Test func jsonCarriesEverySourceAndTheDestinationNote() throws {
        var service = TrafficQueryTests.reviews
        service.application = nil
        service.weights = nil
        let report = TrafficReport.make(
            services: [service], window: .standard, prometheus: "http://p:9090",
            answers: Self.answers(.client, [.requests: [Self.sample("v1", 1.23456)]]))
        let json = report.json
        #expect(json["window"]?.stringValue == "30s")
        #expect(json["prometheus"]?.stringValue == "http://p:9090")
        let entry = try #require(json["services"]?[0])
        #expect(entry["weights"] == .null)
        #expect(entry["sources"]?["client"]?["requestsPerSecond"]?.doubleValue == 1.235)
        #expect(entry["sources"]?["client"]?["rows"]?[0]?["weight"] == .null)
        #expect(entry["sources"]?["envoy"]?["rows"] == .array([]))
        #expect(entry["sources"]?["destination"]?["note"]?.stringValue?.contains("app, app.kubernetes.io/name") == true)
    }
}

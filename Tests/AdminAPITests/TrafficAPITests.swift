import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MeshModel
import MeshTesting
import ObservedTraffic
import Prometheus
import PushPipeline
import Synchronization
import Testing
import XDSCore

@testable import AdminAPI

/// `GET /api/v1/traffic` against a stand-in Prometheus: the services it asks about, the weights
/// it reports beside what was seen, and plain refusals when Prometheus is absent or down.
@Suite struct TrafficAPITests {
    /// Answers every query from fixed samples per source and measure; records what it was asked.
    final class FakePrometheus: PrometheusQuerying {
        let baseURL = "http://prometheus.test:9090"
        let failure: ObservedTrafficError?
        let asked = Mutex<[String]>([])

        init(failure: ObservedTrafficError? = nil) { self.failure = failure }

        func query(_ promql: String) async throws(ObservedTrafficError) -> [PrometheusSample] {
            asked.withLock { $0.append(promql) }
            if let failure { throw failure }
            let host = "reviews.default.svc.cluster.local"
            func sample(_ subset: String, _ value: Double) -> PrometheusSample {
                PrometheusSample(labels: ["meshd_host": host, "meshd_subset": subset], value: value)
            }
            // The client source only: 30 and 10 RPCs/s, a quarter of v2's failing.
            guard promql.contains("grpc_client_attempt") else { return [] }
            if promql.contains("_bucket") {
                // v1 entirely under 4 ms, v2 under 6 ms (gRPC's histograms are in seconds).
                func bucket(_ subset: String, _ le: String, _ value: Double) -> PrometheusSample {
                    PrometheusSample(labels: ["meshd_host": host, "meshd_subset": subset, "le": le], value: value)
                }
                return [
                    bucket("v1", "0.004", 30), bucket("v1", "+Inf", 30), bucket("v2", "0.004", 0), bucket("v2", "0.006", 10),
                    bucket("v2", "+Inf", 10),
                ]
            }
            if promql.contains(#"grpc_status!="OK""#) { return [sample("v2", 2.5)] }
            return [sample("v1", 30), sample("v2", 10)]
        }
    }

    func withApp(prometheus: FakePrometheus?, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let push = try MeshOverviewTests.push(
            CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            CanaryFixture.virtualService([("v1", 75), ("v2", 25)]))
        let publisher = PushContextPublisher()
        publisher.publish(push)
        let router = AdminRouter.make(
            AdminDependencies(
                store: InMemoryConfigStore(), publisher: publisher, statuses: ProxyStatusRegistry(),
                metrics: PrometheusCollectorRegistry(), logger: Logger(label: "test"), generators: .testing,
                traffic: prometheus.map { ObservedTrafficReader(prometheus: $0) }))
        try await Application(router: router).test(.router, body)
    }

    static func json(_ response: TestResponse) throws -> JSONValue {
        try JSONValue.parse(json: String(buffer: response.body))
    }

    @Test func observedSharesSitBesideTheConfiguredWeights() async throws {
        let prometheus = FakePrometheus()
        try await withApp(prometheus: prometheus) { client in
            let response = try await client.execute(uri: "/api/v1/traffic?host=reviews&window=1m", method: .get)
            #expect(response.status == .ok)
            let answer = try Self.json(response)
            #expect(answer["window"]?.stringValue == "60s")
            #expect(answer["prometheus"]?.stringValue == "http://prometheus.test:9090")
            let service = try #require(answer["services"]?[0])
            #expect(service["host"]?.stringValue == "reviews.default.svc.cluster.local")
            #expect(service["weights"] == .object(["v1": .number(75), "v2": .number(25)]))
            let rows = try #require(service["sources"]?["client"]?["rows"]?.arrayValue)
            #expect(rows.map { $0["subset"]?.stringValue } == ["v1", "v2"])
            #expect(rows.map { $0["sharePercent"]?.doubleValue } == [75, 25])
            #expect(rows.map { $0["weight"]?.intValue } == [75, 25])
            #expect(rows[1]["errorPercent"]?.doubleValue == 25)
            #expect(rows[1]["p99Ms"]?.doubleValue == 5.98)
            #expect(service["sources"]?["destination"]?["rows"] == .array([]))
        }
        let asked = prometheus.asked.withLock { $0 }
        #expect(asked.count == 9)
        // The destination side groups the workloads' series by namespace, app label and subset labels.
        #expect(
            asked.contains {
                $0
                    == #"sum by (namespace, app, version) (rate(grpc_server_call_duration_seconds_count{namespace=~"(default)",app=~"(reviews)"}[60s]))"#
            }
        )
    }

    @Test func withoutPrometheusTheAnswerSaysSoAndTheOverviewStillWorks() async throws {
        try await withApp(prometheus: nil) { client in
            let response = try await client.execute(uri: "/api/v1/traffic", method: .get)
            #expect(response.status == .serviceUnavailable)
            let answer = try Self.json(response)
            #expect(answer["error"]?["code"]?.stringValue == "unavailable")
            #expect(answer["error"]?["message"]?.stringValue?.contains("--prometheus-url") == true)
            #expect(try await client.execute(uri: "/api/v1/overview", method: .get).status == .ok)
        }
    }

    @Test func anUnreachablePrometheusIsNamed() async throws {
        let failure = ObservedTrafficError.unavailable("Prometheus at http://prometheus.test:9090 cannot be reached: connection refused")
        try await withApp(prometheus: FakePrometheus(failure: failure)) { client in
            let response = try await client.execute(uri: "/api/v1/traffic", method: .get)
            #expect(response.status == .serviceUnavailable)
            #expect(try Self.json(response)["error"]?["message"]?.stringValue == failure.description)
        }
    }

    @Test func badParametersAndUnknownHostsAreRefused() async throws {
        try await withApp(prometheus: FakePrometheus()) { client in
            let window = try await client.execute(uri: "/api/v1/traffic?window=2s", method: .get)
            #expect(window.status == .badRequest)
            #expect(try Self.json(window)["error"]?["message"]?.stringValue?.contains("5s to 1h") == true)
            #expect(try await client.execute(uri: "/api/v1/traffic?hots=reviews", method: .get).status == .badRequest)
            #expect(try await client.execute(uri: "/api/v1/traffic?host=ratings", method: .get).status == .notFound)
        }
    }
}

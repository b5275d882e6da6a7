import Testing

@testable import ObservedTraffic

/// The PromQL meshd sends: which series each source is read from, how hosts and label values
/// are quoted, and that every answer carries `meshd_host` and `meshd_subset`.
@Suite struct TrafficQueryTests {
    static let reviews = TrafficService(
        host: "reviews.default.svc.cluster.local", namespace: "default",
        subsets: [.init(name: "v1", labels: ["version": "v1"]), .init(name: "v2", labels: ["version": "v2"])],
        application: WorkloadIdentity(key: "app", value: "reviews"), weights: ["v1": 50, "v2": 50])

    static func query(_ queries: [TrafficQuery], _ source: TrafficSource, _ measure: TrafficQuery.Measure) -> String? {
        queries.first { $0.source == source && $0.measure == measure }?.text
    }

    @Test func everySourceAndMeasureIsAsked() {
        let queries = TrafficQuery.all(for: [Self.reviews], window: .standard)
        #expect(queries.count == 12)
        #expect(Set(queries.map(\.source)) == Set(TrafficSource.allCases))
    }

    @Test func clientRequestsAreCSMLabelledAttemptsCutIntoHostAndSubset() throws {
        let text = try #require(Self.query(TrafficQuery.all(for: [Self.reviews], window: .standard), .client, .requests))
        #expect(
            text
                == #"sum by (meshd_host, meshd_subset) (label_replace(label_replace(rate(grpc_client_attempt_duration_seconds_count{csm_service_name=~"outbound\\|[0-9]+\\|[^|]*\\|(reviews\\.default\\.svc\\.cluster\\.local)"}[30s]), "meshd_subset", "$1", "csm_service_name", "outbound\\|[0-9]+\\|([^|]*)\\|.*"), "meshd_host", "$1", "csm_service_name", "outbound\\|[0-9]+\\|[^|]*\\|(.*)"))"#
        )
    }

    @Test func errorsKeepOnlyFailedCallsPerSource() throws {
        let queries = TrafficQuery.all(for: [Self.reviews], window: .standard)
        #expect(try #require(Self.query(queries, .client, .errors)).contains(#"grpc_status!="OK""#))
        #expect(try #require(Self.query(queries, .destination, .errors)).contains(#"grpc_status!="OK""#))
        #expect(try #require(Self.query(queries, .envoy, .errors)).contains(#"envoy_response_code_class="5""#))
        #expect(try #require(Self.query(queries, .envoy, .requests)).contains("envoy_cluster_upstream_rq_xx{envoy_cluster_name=~"))
    }

    @Test func latencyIsAQuantileOfTheBucketsInMilliseconds() throws {
        let queries = TrafficQuery.all(for: [Self.reviews], window: .standard)
        let client = try #require(Self.query(queries, .client, .p99))
        #expect(client.hasPrefix("(histogram_quantile(0.99, sum by (meshd_host, meshd_subset, le) (label_replace("))
        #expect(client.hasSuffix(" * 1000)"))
        #expect(client.contains("grpc_client_attempt_duration_seconds_bucket{"))
        // Envoy's histogram is already in milliseconds.
        let envoy = try #require(Self.query(queries, .envoy, .p50))
        #expect(envoy.hasPrefix("histogram_quantile(0.5, "))
        #expect(!envoy.contains("* 1000"))
        #expect(envoy.contains("envoy_cluster_upstream_rq_time_bucket{"))
    }

    @Test func destinationSelectsEachSubsetByNamespaceApplicationAndSubsetLabels() throws {
        let text = try #require(Self.query(TrafficQuery.all(for: [Self.reviews], window: .standard), .destination, .requests))
        #expect(
            text
                == #"label_replace(label_replace(sum(rate(grpc_server_call_duration_seconds_count{app="reviews",namespace="default",version="v1"}[30s])), "meshd_subset", "v1", "", ""), "meshd_host", "reviews.default.svc.cluster.local", "", "") or label_replace(label_replace(sum(rate(grpc_server_call_duration_seconds_count{app="reviews",namespace="default",version="v2"}[30s])), "meshd_subset", "v2", "", ""), "meshd_host", "reviews.default.svc.cluster.local", "", "")"#
        )
    }

    @Test func destinationLabelNamesAreSanitizedAndValuesQuoted() throws {
        var service = Self.reviews
        service.application = WorkloadIdentity(key: "app.kubernetes.io/name", value: #"rev"iews\"#)
        service.subsets = [.init(name: "canary", labels: ["track/stage": "1"])]
        let text = try #require(Self.query(TrafficQuery.all(for: [service], window: .standard), .destination, .requests))
        #expect(text.contains(#"app_kubernetes_io_name="rev\"iews\\""#))
        #expect(text.contains(#"track_stage="1""#))
    }

    @Test func aServiceWithoutAnApplicationLabelHasNoDestinationQuery() {
        var service = Self.reviews
        service.application = nil
        let queries = TrafficQuery.all(for: [service], window: .standard)
        #expect(Self.query(queries, .destination, .requests) == nil)
        #expect(queries.count == 8)
    }

    @Test func hostsAreMatchedLiterallyAndEveryHostWhenAsked() throws {
        var odd = Self.reviews
        odd.host = "a+b.example.com"
        let one = try #require(Self.query(TrafficQuery.all(for: [odd], window: .standard), .envoy, .requests))
        #expect(one.contains(#"(a\\+b\\.example\\.com)"#))
        let every = try #require(Self.query(TrafficQuery.all(for: [odd], window: .standard, everyHost: true), .envoy, .requests))
        #expect(every.contains(#"\\|.+""#))
        let none = try #require(Self.query(TrafficQuery.all(for: [], window: .standard), .envoy, .requests))
        #expect(none.contains(#"\\x00"#))
    }

    @Test func windowsParseWithinBounds() throws {
        #expect(try TrafficWindow(parsing: "30s").seconds == 30)
        #expect(try TrafficWindow(parsing: "1m30s").seconds == 90)
        #expect(try TrafficWindow(parsing: "1h").description == "3600s")
        for bad in ["", "30", "4s", "2h", "1.5s", "-5s", "abc"] {
            #expect(throws: ObservedTrafficError.self) { try TrafficWindow(parsing: bad) }
        }
        let text = try #require(Self.query(TrafficQuery.all(for: [Self.reviews], window: try TrafficWindow(parsing: "2m")), .client, .requests))
        #expect(text.contains("[120s]"))
    }

    @Test func applicationLabelFollowsIstiosPrecedence() {
        #expect(WorkloadIdentity.shared(in: []) == nil)
        #expect(
            WorkloadIdentity.shared(in: [["app": "reviews", "version": "v1"], ["app": "reviews", "version": "v2"]])
                == WorkloadIdentity(key: "app", value: "reviews"))
        #expect(
            WorkloadIdentity.shared(in: [["app": "a", "app.kubernetes.io/name": "reviews"], ["app": "b", "app.kubernetes.io/name": "reviews"]])
                == WorkloadIdentity(key: "app.kubernetes.io/name", value: "reviews"))
        #expect(WorkloadIdentity.shared(in: [["app": "a"], ["version": "v2"]]) == nil)
    }
}

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
        #expect(queries.count == 9)
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

    @Test func latencyIsReadAsBucketRatesPerHostSubsetAndBound() throws {
        let queries = TrafficQuery.all(for: [Self.reviews], window: .standard)
        let client = try #require(Self.query(queries, .client, .latency))
        #expect(client.hasPrefix("sum by (meshd_host, meshd_subset, le) (label_replace("))
        #expect(client.contains("grpc_client_attempt_duration_seconds_bucket{"))
        #expect(try #require(Self.query(queries, .envoy, .latency)).contains("envoy_cluster_upstream_rq_time_bucket{"))
        #expect(!queries.contains { $0.text.contains("histogram_quantile") })
    }

    @Test func destinationSumsOneSelectorByNamespaceApplicationAndSubsetLabels() throws {
        let text = try #require(Self.query(TrafficQuery.all(for: [Self.reviews], window: .standard), .destination, .requests))
        #expect(
            text
                == #"sum by (namespace, app, version) (rate(grpc_server_call_duration_seconds_count{namespace=~"(default)",app=~"(reviews)"}[30s]))"#
        )
        let every = try #require(Self.query(TrafficQuery.all(for: [Self.reviews], window: .standard, everyHost: true), .destination, .errors))
        #expect(every == #"sum by (namespace, app, version) (rate(grpc_server_call_duration_seconds_count{grpc_status!="OK"}[30s]))"#)
    }

    /// Asked for every service, the query does not grow with them beyond their label names:
    /// a thousand services with the same labels ask one selector.
    @Test func destinationQueryDoesNotGrowWithServices() throws {
        let many = (0..<1000).map { index in
            TrafficService(
                host: "svc-\(index).bench.svc.cluster.local", namespace: "bench", subsets: Self.reviews.subsets,
                application: WorkloadIdentity(key: "app", value: "svc-\(index)"), weights: nil)
        }
        let text = try #require(Self.query(TrafficQuery.all(for: many, window: .standard, everyHost: true), .destination, .latency))
        #expect(text == #"sum by (namespace, app, version, le) (rate(grpc_server_call_duration_seconds_bucket{}[30s]))"#)
        // Asked for some, the selector names their namespaces and applications.
        let some = try #require(Self.query(TrafficQuery.all(for: Array(many.prefix(2)), window: .standard), .destination, .latency))
        #expect(some.contains(#"{namespace=~"(bench)",app=~"(svc-0|svc-1)"}"#))
    }

    @Test func groupsAreAttributedToEverySubsetWhoseLabelsTheyCarry() {
        var all = Self.reviews
        all.subsets.append(.init(name: "all", labels: [:]))
        let ratings = TrafficService(
            host: "ratings.default.svc.cluster.local", namespace: "default", subsets: [],
            application: WorkloadIdentity(key: "app.kubernetes.io/name", value: "ratings"), weights: nil)
        let samples = [
            PrometheusSample(labels: ["namespace": "default", "app": "reviews", "version": "v2", "le": "0.01"], value: 3),
            PrometheusSample(labels: ["namespace": "default", "app_kubernetes_io_name": "ratings"], value: 5),
            PrometheusSample(labels: ["namespace": "other", "app": "reviews", "version": "v2"], value: 7),
        ]
        let attributed = TrafficQuery.attribute(samples, to: [all, ratings], namespaceLabel: "namespace")
        let seen = attributed.map { "\($0.labels["meshd_host"] ?? "")|\($0.labels["meshd_subset"] ?? "")|\($0.labels["le"] ?? "-")|\($0.value)" }
        #expect(
            seen.sorted() == [
                "ratings.default.svc.cluster.local||-|5.0", "reviews.default.svc.cluster.local|all|0.01|3.0",
                "reviews.default.svc.cluster.local|v2|0.01|3.0",
            ])
    }

    @Test func destinationLabelNamesAreSanitized() throws {
        var service = Self.reviews
        service.application = WorkloadIdentity(key: "app.kubernetes.io/name", value: "reviews")
        service.subsets = [.init(name: "canary", labels: ["track/stage": "1"])]
        let text = try #require(Self.query(TrafficQuery.all(for: [service], window: .standard), .destination, .requests))
        #expect(text.hasPrefix("sum by (namespace, app_kubernetes_io_name, track_stage) ("))
    }

    @Test func aServiceWithoutAnApplicationLabelHasNoDestinationQuery() {
        var service = Self.reviews
        service.application = nil
        let queries = TrafficQuery.all(for: [service], window: .standard)
        #expect(Self.query(queries, .destination, .requests) == nil)
        #expect(queries.count == 6)
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

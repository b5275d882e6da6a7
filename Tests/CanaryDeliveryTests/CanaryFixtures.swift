import Foundation
import MeshModel
import Storage

@testable import ObservedTraffic

/// Documents and traffic the canary tests share.
enum CanaryFixtures {
    static let host = "reviews.default.svc.cluster.local"

    /// Fixture JSON; a typo in it reads as null, which the tests' expectations then catch.
    static func json(_ text: String) -> JSONValue {
        (try? JSONValue.parse(json: text)) ?? .null
    }

    /// A VirtualService with a default route to v1 only and a header-matched route to v2.
    static func virtualService(weightV2: Int? = nil) -> ConfigResource {
        let route =
            weightV2.map {
                #"[{"destination":{"host":"reviews","subset":"v1"},"weight":\#(100 - $0)},{"destination":{"host":"reviews","subset":"v2"},"weight":\#($0)}]"#
            } ?? #"[{"destination":{"host":"reviews","subset":"v1","port":{"number":9080}}}]"#
        return ConfigResource(
            key: ConfigKey(kind: .virtualService, namespace: "default", name: "reviews"),
            spec: json(
                #"{"hosts":["reviews"],"http":[{"match":[{"headers":{"end-user":{"exact":"jason"}}}],"route":[{"destination":{"host":"ratings","subset":"v2"}}]},{"timeout":"5s","route":\#(route)}]}"#
            ))
    }

    static func canary(steps: String = "[20, 50, 100]", interval: String = "10s", analysis: String = #"{"minRequests": 100}"#)
        -> ConfigResource
    {
        ConfigResource(
            key: ConfigKey(kind: .canary, namespace: "default", name: "reviews"),
            spec: json(#"{"host":"reviews","from":"v1","to":"v2","steps":\#(steps),"interval":"\#(interval)","analysis":\#(analysis)}"#))
    }

    /// One service's traffic as the client source saw it: `rps` to v2 with `errors` percent.
    static func traffic(rps: Double, errors: Double, p99: Double = 5, source: TrafficSource = .client) -> TrafficReport.ServiceTraffic {
        TrafficReport.ServiceTraffic(
            host: host, namespace: "default", weights: nil,
            sources: [
                source: [
                    .init(subset: "v1", requestsPerSecond: 50, sharePercent: 50, errorPercent: 0, p50Ms: 1, p99Ms: 4, weight: nil),
                    .init(subset: "v2", requestsPerSecond: rps, sharePercent: 50, errorPercent: errors, p50Ms: 1, p99Ms: p99, weight: nil),
                ]
            ], notes: [:])
    }
}

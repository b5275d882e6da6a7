import EnvoyAPI
import MeshModel
import MeshTesting
import SwiftProtobuf
import Testing

@testable import Translator

/// DestinationRule traffic policies as proxyless gRPC clusters and routes.
@Suite struct TrafficPolicyTranslationTests {
    private func rule(_ policy: String, subsets: String = "[{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]") -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews, namespace: default}
        spec:
          host: reviews
          trafficPolicy: \(policy)
          subsets: \(subsets)
        """
    }

    private func clusters(_ texts: String...) throws -> [String: Envoy_Config_Cluster_V3_Cluster] {
        let push = try pushContextFrom([CanaryFixture.registry] + texts)
        var result: [String: Envoy_Config_Cluster_V3_Cluster] = [:]
        for resource in GeneratorTable.testing.resources(TypeURL.cluster, for: proxy, in: push) {
            result[resource.name] = try decode(Envoy_Config_Cluster_V3_Cluster.self, resource)
        }
        return result
    }

    private func route(_ texts: String...) throws -> Envoy_Config_Route_V3_RouteAction {
        let push = try pushContextFrom([CanaryFixture.registry] + texts)
        let config = try decode(
            Envoy_Config_Route_V3_RouteConfiguration.self, GeneratorTable.testing.resources(TypeURL.route, for: proxy, in: push)[0])
        return try #require(config.virtualHosts.first?.routes.first).route
    }

    @Test func http2MaxRequestsBecomesACircuitBreakerOnEveryCluster() throws {
        let all = try clusters(rule("{connectionPool: {http: {http2MaxRequests: 3, http1MaxPendingRequests: 9}, tcp: {maxConnections: 1}}}"))
        for name in ["outbound|9080||\(host)", "outbound|9080|v1|\(host)", "outbound|9080|v2|\(host)"] {
            let cluster = try #require(all[name])
            #expect(cluster.circuitBreakers.thresholds.count == 1)
            let thresholds = cluster.circuitBreakers.thresholds[0]
            #expect(thresholds.priority == .default && thresholds.maxRequests.value == 3)
            // gRPC honours only max_requests: nothing else is sent.
            #expect(!thresholds.hasMaxPendingRequests && !thresholds.hasMaxConnections)
        }
        // 0 is Istio's "unset": no breaker, gRPC keeps its default.
        #expect(try clusters(rule("{connectionPool: {http: {http2MaxRequests: 0}}}"))["outbound|9080||\(host)"]?.hasCircuitBreakers == false)
    }

    @Test func subsetPolicyIsMergedOverTheRulesForItsCluster() throws {
        let subsets =
            "[{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}, trafficPolicy: {connectionPool: {http: {http2MaxRequests: 1}}}}]"
        let all = try clusters(
            rule("{connectionPool: {http: {http2MaxRequests: 5}}, loadBalancer: {consistentHash: {httpHeaderName: x}}}", subsets: subsets))
        #expect(all["outbound|9080|v1|\(host)"]?.circuitBreakers.thresholds.first?.maxRequests.value == 5)
        #expect(all["outbound|9080|v2|\(host)"]?.circuitBreakers.thresholds.first?.maxRequests.value == 1)
        #expect(all["outbound|9080|v2|\(host)"]?.lbPolicy == .ringHash)
    }

    @Test(arguments: ["LEAST_REQUEST", "RANDOM", "PASSTHROUGH", "LEAST_CONN", "ROUND_ROBIN"])
    func simplePoliciesGRPCLacksBecomeRoundRobin(simple: String) throws {
        let cluster = try #require(try clusters(rule("{loadBalancer: {simple: \(simple)}}"))["outbound|9080||\(host)"])
        #expect(cluster.lbPolicy == .roundRobin)
        #expect(cluster.lbConfig == nil)
    }

    @Test func consistentHashOnAHeaderBecomesRingHashAndARouteHashPolicy() throws {
        let policy = "{loadBalancer: {consistentHash: {httpHeaderName: X-User, ringHash: {minimumRingSize: 64}}}}"
        let cluster = try #require(try clusters(rule(policy))["outbound|9080||\(host)"])
        #expect(cluster.lbPolicy == .ringHash)
        #expect(cluster.ringHashLbConfig.minimumRingSize.value == 64)
        #expect(!cluster.ringHashLbConfig.hasMaximumRingSize)
        let action = try route(rule(policy))
        #expect(action.hashPolicy.map(\.header.headerName) == ["x-user"])
        // Through a VirtualService, the destination subset's policy gives the hash.
        let routed = try route(rule(policy), CanaryFixture.virtualService([("v1", 50), ("v2", 50)]))
        #expect(routed.hashPolicy.map(\.header.headerName) == ["x-user"])
    }

    @Test(arguments: [
        ("{loadBalancer: {consistentHash: {httpCookie: {name: c, ttl: 10s}}}}", UInt64(1024)),
        ("{loadBalancer: {consistentHash: {useSourceIp: true, minimumRingSize: 32}}}", UInt64(32)),
        ("{loadBalancer: {consistentHash: {httpQueryParameterName: q, maglev: {tableSize: 65537}}}}", UInt64(1024)),
    ])
    func hashKeysGRPCIgnoresLeaveAValidRingHashWithoutHashPolicy(policy: String, ring: UInt64) throws {
        let cluster = try #require(try clusters(rule(policy))["outbound|9080||\(host)"])
        #expect(cluster.lbPolicy == .ringHash)
        #expect(cluster.ringHashLbConfig.minimumRingSize.value == ring)
        #expect(try route(rule(policy)).hashPolicy.isEmpty)
    }

    @Test func consecutiveErrorsBecomeFailurePercentageEjection() throws {
        let policy =
            "{outlierDetection: {consecutive5xxErrors: 7, consecutiveGatewayErrors: 4, interval: 1s, baseEjectionTime: 3s, maxEjectionPercent: 100, minHealthPercent: 10}}"
        let outlier = try #require(try clusters(rule(policy))["outbound|9080||\(host)"]).outlierDetection
        #expect(outlier.enforcingFailurePercentage.value == 100)
        #expect(outlier.failurePercentageMinimumHosts.value == 1)
        #expect(outlier.failurePercentageRequestVolume.value == 4)
        #expect(outlier.hasEnforcingConsecutive5Xx && outlier.enforcingConsecutive5Xx.value == 0)
        #expect(outlier.hasEnforcingConsecutiveGatewayFailure && outlier.enforcingConsecutiveGatewayFailure.value == 0)
        #expect(outlier.hasEnforcingSuccessRate && outlier.enforcingSuccessRate.value == 0)
        #expect(outlier.interval.seconds == 1 && outlier.baseEjectionTime.seconds == 3 && outlier.maxEjectionPercent.value == 100)

        // Istio's defaults when absent; no count, no ejection.
        let defaults = try #require(try clusters(rule("{outlierDetection: {consecutive5xxErrors: 0}}"))["outbound|9080||\(host)"]).outlierDetection
        #expect(defaults.interval.seconds == 10 && defaults.baseEjectionTime.seconds == 30 && defaults.maxEjectionPercent.value == 10)
        #expect(defaults.enforcingFailurePercentage.value == 0)
    }

    @Test func portLevelSettingsApplyToTheirPortOnly() throws {
        let policy = "{tls: {mode: ISTIO_MUTUAL}, portLevelSettings: [{port: {number: 9080}, connectionPool: {http: {http2MaxRequests: 2}}}]}"
        let cluster = try #require(try clusters(rule(policy))["outbound|9080||\(host)"])
        #expect(cluster.circuitBreakers.thresholds.first?.maxRequests.value == 2)
        // As in Istio, the port-level entry inherits nothing, TLS included.
        #expect(!cluster.hasTransportSocket)
    }
}

/// `pushContext(_:)` for an array of YAML texts.
func pushContextFrom(_ texts: [String]) throws -> PushContext {
    var inputs: [PushContextBuilder.Input] = []
    var revision: Int64 = 0
    for text in texts {
        for resource in try ConfigDocumentParser.parse(text) {
            revision += 1
            inputs.append(.init(key: resource.key, createdRevision: revision, config: try ConfigValidator.validate(resource)))
        }
    }
    return PushContextBuilder.build(revision: 1, inputs: inputs)
}

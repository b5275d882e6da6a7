import EnvoyAPI
import MeshModel
import SwiftProtobuf

/// A merged DestinationRule policy (`DestinationRule.policy(subset:port:)`) as the proxyless
/// gRPC shapes of a cluster and of the routes to it: only what gRPC's xDS client honours, and
/// never a value it NACKs. `ClientSupport` lists, per field, what is honoured, substituted or
/// left out; this is the code that does it.
enum ProxylessTrafficPolicy {
    /// Sets the cluster's load-balancing policy, circuit breaker and outlier detection.
    static func apply(_ policy: PolicySettings, to cluster: inout Envoy_Config_Cluster_V3_Cluster) {
        applyLoadBalancer(policy.loadBalancer, to: &cluster)
        // gRFC A32: gRPC honours max_requests of the DEFAULT priority only. Istio sends none
        // for 0 (its "unset"), leaving gRPC's default of 1024.
        if let limit = policy.connectionPool?.http?.http2MaxRequests, limit > 0 {
            var thresholds = Envoy_Config_Cluster_V3_CircuitBreakers.Thresholds()
            thresholds.priority = .default
            thresholds.maxRequests = Google_Protobuf_UInt32Value(UInt32(limit))
            var breakers = Envoy_Config_Cluster_V3_CircuitBreakers()
            breakers.thresholds = [thresholds]
            cluster.circuitBreakers = breakers
        }
        if let outlier = policy.outlierDetection {
            cluster.outlierDetection = outlierDetection(outlier)
        }
    }

    /// gRPC accepts only ROUND_ROBIN and RING_HASH: every other simple policy is sent as
    /// ROUND_ROBIN, maglev as a ring hash (the apply answer warned about both).
    private static func applyLoadBalancer(_ settings: LoadBalancerSettings?, to cluster: inout Envoy_Config_Cluster_V3_Cluster) {
        guard let hash = settings?.consistentHash else {
            cluster.lbPolicy = .roundRobin
            return
        }
        cluster.lbPolicy = .ringHash
        var ring = Envoy_Config_Cluster_V3_Cluster.RingHashLbConfig()
        // Validation bounds the size by 8M, within what gRPC and Envoy accept; a maglev table
        // size means nothing to a ring, so the ring keeps its default.
        ring.minimumRingSize = Google_Protobuf_UInt64Value(hash.ringSize ?? 1024)
        cluster.ringHashLbConfig = ring
    }

    /// gRFC A50 implements failure-percentage and success-rate ejection only. Istio's
    /// consecutive-error counts become failure-percentage ejection with that many RPCs as the
    /// minimum volume (the smaller count when both are set); the consecutive-error algorithms
    /// are switched off so no client (Envoy included) ejects by them as well.
    static func outlierDetection(_ outlier: OutlierDetection) -> Envoy_Config_Cluster_V3_OutlierDetection {
        var out = Envoy_Config_Cluster_V3_OutlierDetection()
        out.enforcingSuccessRate = Google_Protobuf_UInt32Value(0)
        out.enforcingConsecutive5Xx = Google_Protobuf_UInt32Value(0)
        out.enforcingConsecutiveGatewayFailure = Google_Protobuf_UInt32Value(0)
        let counts = [outlier.consecutive5xxErrors, outlier.consecutiveGatewayErrors].compactMap { $0 }.filter { $0 > 0 }
        if let volume = counts.min() {
            out.enforcingFailurePercentage = Google_Protobuf_UInt32Value(100)
            out.failurePercentageMinimumHosts = Google_Protobuf_UInt32Value(1)
            out.failurePercentageRequestVolume = Google_Protobuf_UInt32Value(volume)
        } else {
            out.enforcingFailurePercentage = Google_Protobuf_UInt32Value(0)
        }
        // Istio's defaults, written out (Envoy and gRPC share them) so the shape says what happens.
        out.interval = RoutePolicy.protobufDuration(outlier.interval ?? OutlierDetection.defaultInterval)
        out.baseEjectionTime = RoutePolicy.protobufDuration(outlier.baseEjectionTime ?? OutlierDetection.defaultBaseEjectionTime)
        // Istio sends maxEjectionPercent only when positive (0 is proto3's "unset").
        let percent = outlier.maxEjectionPercent.flatMap { $0 > 0 ? UInt32($0) : nil } ?? OutlierDetection.defaultMaxEjectionPercent
        out.maxEjectionPercent = Google_Protobuf_UInt32Value(min(percent, 100))
        return out
    }

    /// The route's hash policies for traffic governed by `policy`: a header hash, which gRPC
    /// honours. Cookies, source IPs and query parameters hash nothing in gRPC, so nothing is
    /// sent and gRPC picks a random ring position per RPC — still a valid route.
    static func hashPolicies(_ policy: PolicySettings) -> [Envoy_Config_Route_V3_RouteAction.HashPolicy] {
        guard case .httpHeaderName(let name)? = policy.loadBalancer?.consistentHash?.hashKey else { return [] }
        return [RoutePolicy.headerHash(name)]
    }
}

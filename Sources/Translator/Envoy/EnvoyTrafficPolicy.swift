import EnvoyAPI
import MeshModel
import SwiftProtobuf

/// A merged DestinationRule policy as the cluster shapes istiod gives Envoy
/// (`cluster_traffic_policy.go`): every load-balancing policy, connection-pool limits as circuit
/// breakers and HTTP protocol options, Envoy's own consecutive-error outlier detection, the
/// locality-weighted config and slow start. `ProxylessTrafficPolicy` is its gRPC counterpart;
/// `ClientSupport` lists, per field, what each kind makes of it.
enum EnvoyTrafficPolicy {
    /// The `typed_extension_protocol_options` key of upstream HTTP options.
    static let httpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

    /// Sets `cluster`'s policy fields for traffic to a port speaking `protocolName` (`GRPC`,
    /// `HTTP2`, … upper-cased; HTTP/2 and gRPC ports get HTTP/2 upstream, as in Istio).
    static func apply(_ policy: PolicySettings, to cluster: inout Envoy_Config_Cluster_V3_Cluster, protocolName: String) {
        var options = Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions()
        var hasOptions = false
        let http = policy.connectionPool?.http
        if http?.useClientProtocol == true {
            options.useDownstreamProtocolConfig.httpProtocolOptions = .init()
            options.useDownstreamProtocolConfig.http2ProtocolOptions = .init()
            hasOptions = true
        } else if ["GRPC", "HTTP2", "GRPC-WEB"].contains(protocolName)
            || (["HTTP", ""].contains(protocolName) && http?.h2UpgradePolicy == "UPGRADE")
        {
            options.explicitHTTPConfig.http2ProtocolOptions = .init()
            hasOptions = true
        }
        applyLoadBalancer(policy, to: &cluster)
        if let pool = policy.connectionPool {
            applyConnectionPool(pool, to: &cluster, options: &options)
            hasOptions = hasOptions || options.hasCommonHTTPProtocolOptions
        }
        if let outlier = policy.outlierDetection {
            cluster.outlierDetection = outlierDetection(outlier)
            // Istio switches Envoy's panic mode off unless minHealthPercent asks for it.
            var panic = Envoy_Type_V3_Percent()
            panic.value = Double(max(0, outlier.minHealthPercent ?? 0))
            cluster.commonLbConfig.healthyPanicThreshold = panic
        }
        if let locality = policy.loadBalancer?.localityLbSetting ?? (policy.outlierDetection != nil ? LocalityLoadBalancerSetting() : nil),
            !locality.isDisabled,
            !locality.distribute.isEmpty || (policy.outlierDetection != nil && (!locality.failover.isEmpty || !locality.failoverPriority.isEmpty))
        {
            // Envoy weighs localities only with this set; priorities need nothing.
            cluster.commonLbConfig.localityWeightedLbConfig = .init()
        }
        if hasOptions { cluster.typedExtensionProtocolOptions[httpProtocolOptionsKey] = AnyPacking.pack(options) }
    }

    /// Istio's choice: LEAST_REQUEST unless told otherwise; PASSTHROUGH is the original
    /// destination (no endpoints); consistent hashing is a ring (or maglev) after all.
    private static func applyLoadBalancer(_ policy: PolicySettings, to cluster: inout Envoy_Config_Cluster_V3_Cluster) {
        let settings = policy.loadBalancer
        let slowStart = settings?.warmup.map(slowStartConfig)
        switch settings?.simple {
        case .random:
            cluster.lbPolicy = .random
        case .roundRobin:
            cluster.lbPolicy = .roundRobin
            if let slowStart { cluster.roundRobinLbConfig.slowStartConfig = slowStart }
        case .passthrough:
            cluster.type = .originalDst
            cluster.lbPolicy = .clusterProvided
            cluster.clearEdsClusterConfig()
            cluster.clearLoadAssignment()
        case .leastRequest, .leastConn, .unspecified, nil:
            cluster.lbPolicy = .leastRequest
            if let slowStart { cluster.leastRequestLbConfig.slowStartConfig = slowStart }
        }
        guard let hash = settings?.consistentHash else { return }
        if case .maglev(let tableSize)? = hash.algorithm {
            cluster.lbPolicy = .maglev
            cluster.maglevLbConfig.tableSize = Google_Protobuf_UInt64Value(tableSize)
            return
        }
        cluster.lbPolicy = .ringHash
        var ring = Envoy_Config_Cluster_V3_Cluster.RingHashLbConfig()
        ring.minimumRingSize = Google_Protobuf_UInt64Value(hash.ringSize ?? 1024)
        cluster.ringHashLbConfig = ring
    }

    /// Istio's `setWarmup`: aggression 1 (linear) and a 10% floor unless given.
    private static func slowStartConfig(_ warmup: WarmupConfiguration) -> Envoy_Config_Cluster_V3_Cluster.SlowStartConfig {
        var config = Envoy_Config_Cluster_V3_Cluster.SlowStartConfig()
        config.slowStartWindow = RoutePolicy.protobufDuration(warmup.duration)
        var aggression = Envoy_Config_Core_V3_RuntimeDouble()
        aggression.defaultValue = warmup.aggression ?? 1
        // Envoy requires a runtime key; this one names nothing, so the default always applies.
        aggression.runtimeKey = "meshd.slow_start.aggression"
        config.aggression = aggression
        var minimum = Envoy_Type_V3_Percent()
        minimum.value = warmup.minimumPercent ?? 10
        config.minWeightPercent = minimum
        return config
    }

    /// Istio's `applyConnectionPool`: every limit unset stays unlimited (uint32 max, Istio's
    /// defaults — Envoy's own are far lower and cause 503s during rollouts).
    private static func applyConnectionPool(
        _ pool: ConnectionPoolSettings, to cluster: inout Envoy_Config_Cluster_V3_Cluster,
        options: inout Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions
    ) {
        func limit(_ value: Int32?) -> Google_Protobuf_UInt32Value {
            Google_Protobuf_UInt32Value(value.flatMap { $0 > 0 ? UInt32($0) : nil } ?? UInt32.max)
        }
        var thresholds = Envoy_Config_Cluster_V3_CircuitBreakers.Thresholds()
        thresholds.priority = .default
        thresholds.maxRequests = limit(pool.http?.http2MaxRequests)
        thresholds.maxPendingRequests = limit(pool.http?.http1MaxPendingRequests)
        thresholds.maxRetries = limit(pool.http?.maxRetries)
        thresholds.maxConnections = limit(pool.tcp?.maxConnections)
        cluster.circuitBreakers.thresholds = [thresholds]

        if let timeout = pool.tcp?.connectTimeout { cluster.connectTimeout = RoutePolicy.protobufDuration(timeout) }
        if let keepalive = pool.tcp?.keepalive {
            var tcp = Envoy_Config_Core_V3_TcpKeepalive()
            if let probes = keepalive.probes { tcp.keepaliveProbes = Google_Protobuf_UInt32Value(probes) }
            if let time = keepalive.time { tcp.keepaliveTime = Google_Protobuf_UInt32Value(wholeSeconds(time)) }
            if let interval = keepalive.interval { tcp.keepaliveInterval = Google_Protobuf_UInt32Value(wholeSeconds(interval)) }
            cluster.upstreamConnectionOptions.tcpKeepalive = tcp
        }
        // The HTTP idle timeout wins over the TCP one, as in Istio.
        if let idle = pool.http?.idleTimeout ?? pool.tcp?.idleTimeout {
            options.commonHTTPProtocolOptions.idleTimeout = RoutePolicy.protobufDuration(idle)
        }
        if let duration = pool.tcp?.maxConnectionDuration {
            options.commonHTTPProtocolOptions.maxConnectionDuration = RoutePolicy.protobufDuration(duration)
        }
        if let perConnection = pool.http?.maxRequestsPerConnection, perConnection > 0 {
            options.commonHTTPProtocolOptions.maxRequestsPerConnection = Google_Protobuf_UInt32Value(UInt32(perConnection))
        }
        // HTTP/2 settings exist only on an HTTP/2 upstream.
        if case .explicitHTTPConfig(var explicit)? = options.upstreamProtocolOptions,
            case .http2ProtocolOptions(var h2)? = explicit.protocolConfig
        {
            if let streams = pool.http?.maxConcurrentStreams, streams > 0 { h2.maxConcurrentStreams = Google_Protobuf_UInt32Value(UInt32(streams)) }
            if let keepalive = pool.http?.http2KeepAlive {
                h2.connectionKeepalive.interval = RoutePolicy.protobufDuration(keepalive.interval)
                h2.connectionKeepalive.timeout = RoutePolicy.protobufDuration(keepalive.timeout)
            }
            explicit.http2ProtocolOptions = h2
            options.explicitHTTPConfig = explicit
        }
    }

    /// Whole seconds (Envoy's keepalive unit), at least 1, saturating: a duration validated by
    /// meshd is at most protobuf's range, far beyond uint32 seconds.
    private static func wholeSeconds(_ duration: Duration) -> UInt32 {
        UInt32(clamping: max(1, duration.components.seconds))
    }

    /// Istio's `applyOutlierDetection`: Envoy's consecutive-error ejection, enforced at 100%
    /// when the count is positive; success-rate ejection off; unset fields keep Envoy's defaults
    /// (which are Istio's).
    static func outlierDetection(_ outlier: OutlierDetection) -> Envoy_Config_Cluster_V3_OutlierDetection {
        var out = Envoy_Config_Cluster_V3_OutlierDetection()
        out.enforcingSuccessRate = Google_Protobuf_UInt32Value(0)
        if let count = outlier.consecutive5xxErrors {
            out.consecutive5Xx = Google_Protobuf_UInt32Value(count)
            out.enforcingConsecutive5Xx = Google_Protobuf_UInt32Value(count > 0 ? 100 : 0)
        }
        if let count = outlier.consecutiveGatewayErrors {
            out.consecutiveGatewayFailure = Google_Protobuf_UInt32Value(count)
            out.enforcingConsecutiveGatewayFailure = Google_Protobuf_UInt32Value(count > 0 ? 100 : 0)
        }
        if let interval = outlier.interval { out.interval = RoutePolicy.protobufDuration(interval) }
        if let base = outlier.baseEjectionTime { out.baseEjectionTime = RoutePolicy.protobufDuration(base) }
        if let percent = outlier.maxEjectionPercent, percent > 0 { out.maxEjectionPercent = Google_Protobuf_UInt32Value(UInt32(percent)) }
        if outlier.splitExternalLocalOriginErrors {
            out.splitExternalLocalOriginErrors = true
            if let failures = outlier.consecutiveLocalOriginFailures, failures > 0 {
                out.consecutiveLocalOriginFailure = Google_Protobuf_UInt32Value(failures)
                out.enforcingConsecutiveLocalOriginFailure = Google_Protobuf_UInt32Value(100)
            }
            out.enforcingLocalOriginSuccessRate = Google_Protobuf_UInt32Value(0)
        }
        return out
    }

    /// The route's hash policies for traffic governed by `policy`: a header (as gRPC hashes), a
    /// cookie (generated with its ttl and path when absent), the source IP or a query parameter.
    static func hashPolicies(_ policy: PolicySettings) -> [Envoy_Config_Route_V3_RouteAction.HashPolicy] {
        var hash = Envoy_Config_Route_V3_RouteAction.HashPolicy()
        switch policy.loadBalancer?.consistentHash?.hashKey {
        case .httpHeaderName(let name)?:
            return [RoutePolicy.headerHash(name)]
        case .httpCookie(let name, let path, let ttl)?:
            hash.cookie.name = name
            if let path { hash.cookie.path = path }
            if let ttl { hash.cookie.ttl = RoutePolicy.protobufDuration(ttl) }
        case .useSourceIP?:
            hash.connectionProperties.sourceIp = true
        case .httpQueryParameterName(let name)?:
            hash.queryParameter.name = name
        case nil:
            return []
        }
        return [hash]
    }
}

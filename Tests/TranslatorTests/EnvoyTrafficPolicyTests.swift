import EnvoyAPI
import MeshModel
import MeshTesting
import SwiftProtobuf
import Testing

@testable import Translator

/// DestinationRule traffic policies as the clusters istiod gives Envoy sidecars
/// (`cluster_traffic_policy.go`), decoded from the bytes meshd sends.
@Suite struct EnvoyTrafficPolicyTests {
    private let sidecar = Proxy(id: "sidecar~10.0.0.5~app-1.default~default.svc.cluster.local", kind: .sidecar)
    private let name = "outbound|9080||\(host)"

    private func cluster(_ policy: String?, registry: String = CanaryFixture.registry) throws -> Envoy_Config_Cluster_V3_Cluster {
        var texts = [registry]
        if let policy {
            texts.append(
                """
                apiVersion: networking.istio.io/v1
                kind: DestinationRule
                metadata: {name: reviews, namespace: default}
                spec: {host: reviews, trafficPolicy: \(policy)}
                """)
        }
        let push = try pushContextFrom(texts)
        let resource = try #require(GeneratorTable.testing.resources(TypeURL.cluster, for: sidecar, in: push).first { $0.name == name })
        return try decode(Envoy_Config_Cluster_V3_Cluster.self, resource)
    }

    private func httpOptions(_ cluster: Envoy_Config_Cluster_V3_Cluster) throws -> Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions {
        let packed = try #require(cluster.typedExtensionProtocolOptions[EnvoyTrafficPolicy.httpProtocolOptionsKey])
        return try Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions(serializedBytes: packed.value)
    }

    @Test func aGRPCPortGetsHTTP2UpstreamAndIstiosDefaultLeastRequest() throws {
        let plain = try cluster(nil)
        #expect(plain.lbPolicy == .leastRequest)
        guard case .http2ProtocolOptions? = try httpOptions(plain).explicitHTTPConfig.protocolConfig else {
            Issue.record("no HTTP/2 upstream for a GRPC port")
            return
        }
    }

    @Test(arguments: [
        ("ROUND_ROBIN", Envoy_Config_Cluster_V3_Cluster.LbPolicy.roundRobin), ("RANDOM", .random),
        ("LEAST_CONN", .leastRequest), ("LEAST_REQUEST", .leastRequest),
    ])
    func everySimplePolicyIsHonoured(simple: String, expected: Envoy_Config_Cluster_V3_Cluster.LbPolicy) throws {
        #expect(try cluster("{loadBalancer: {simple: \(simple)}}").lbPolicy == expected)
    }

    @Test func passthroughIsTheOriginalDestination() throws {
        let passthrough = try cluster("{loadBalancer: {simple: PASSTHROUGH}}")
        #expect(passthrough.type == .originalDst && passthrough.lbPolicy == .clusterProvided && !passthrough.hasEdsClusterConfig)
    }

    @Test func maglevAndRingHash() throws {
        let maglev = try cluster("{loadBalancer: {consistentHash: {httpHeaderName: x, maglev: {tableSize: 65537}}}}")
        #expect(maglev.lbPolicy == .maglev && maglev.maglevLbConfig.tableSize.value == 65537)
        let ring = try cluster("{loadBalancer: {consistentHash: {useSourceIp: true, ringHash: {minimumRingSize: 64}}}}")
        #expect(ring.lbPolicy == .ringHash && ring.ringHashLbConfig.minimumRingSize.value == 64)
    }

    @Test func warmupIsSlowStartWithIstiosDefaults() throws {
        let warm = try cluster("{loadBalancer: {simple: ROUND_ROBIN, warmup: {duration: 30s}}}")
        let slow = warm.roundRobinLbConfig.slowStartConfig
        #expect(slow.slowStartWindow.seconds == 30 && slow.aggression.defaultValue == 1 && slow.minWeightPercent.value == 10)
        let legacy = try cluster("{loadBalancer: {warmupDurationSecs: 5s}}")
        #expect(legacy.leastRequestLbConfig.slowStartConfig.slowStartWindow.seconds == 5)
    }

    @Test func connectionPoolBecomesCircuitBreakersAndProtocolOptions() throws {
        let policy = """
            {connectionPool: {tcp: {maxConnections: 7, connectTimeout: 2s, maxConnectionDuration: 1h, tcpKeepalive: {probes: 3, time: 60s, interval: 10s}},
             http: {http1MaxPendingRequests: 5, http2MaxRequests: 9, maxRetries: 2, maxRequestsPerConnection: 100, idleTimeout: 30s,
                    maxConcurrentStreams: 50, http2KeepAlive: {interval: 20s, timeout: 5s}}}}
            """
        let pooled = try cluster(policy)
        let thresholds = try #require(pooled.circuitBreakers.thresholds.first)
        #expect(thresholds.maxConnections.value == 7 && thresholds.maxPendingRequests.value == 5)
        #expect(thresholds.maxRequests.value == 9 && thresholds.maxRetries.value == 2)
        #expect(pooled.connectTimeout.seconds == 2)
        let keepalive = pooled.upstreamConnectionOptions.tcpKeepalive
        #expect(keepalive.keepaliveProbes.value == 3 && keepalive.keepaliveTime.value == 60 && keepalive.keepaliveInterval.value == 10)
        let options = try httpOptions(pooled)
        #expect(options.commonHTTPProtocolOptions.idleTimeout.seconds == 30)
        #expect(options.commonHTTPProtocolOptions.maxRequestsPerConnection.value == 100)
        #expect(options.commonHTTPProtocolOptions.maxConnectionDuration.seconds == 3600)
        let h2 = options.explicitHTTPConfig.http2ProtocolOptions
        #expect(h2.maxConcurrentStreams.value == 50 && h2.connectionKeepalive.interval.seconds == 20 && h2.connectionKeepalive.timeout.seconds == 5)
        // Limits left unset stay unlimited, as Istio sends them.
        let partial = try #require(try cluster("{connectionPool: {http: {http2MaxRequests: 3}}}").circuitBreakers.thresholds.first)
        #expect(partial.maxRequests.value == 3 && partial.maxConnections.value == UInt32.max && partial.maxRetries.value == UInt32.max)
    }

    @Test func outlierDetectionIsEnvoysConsecutiveErrorEjection() throws {
        let policy =
            "{outlierDetection: {consecutive5xxErrors: 7, consecutiveGatewayErrors: 0, interval: 1s, maxEjectionPercent: 50, minHealthPercent: 20, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 4}}"
        let ejecting = try cluster(policy)
        let outlier = ejecting.outlierDetection
        #expect(outlier.consecutive5Xx.value == 7 && outlier.enforcingConsecutive5Xx.value == 100)
        #expect(outlier.consecutiveGatewayFailure.value == 0 && outlier.enforcingConsecutiveGatewayFailure.value == 0)
        #expect(outlier.enforcingSuccessRate.value == 0 && !outlier.hasEnforcingFailurePercentage)
        #expect(outlier.interval.seconds == 1 && outlier.maxEjectionPercent.value == 50 && !outlier.hasBaseEjectionTime)
        #expect(outlier.splitExternalLocalOriginErrors && outlier.consecutiveLocalOriginFailure.value == 4)
        #expect(ejecting.commonLbConfig.healthyPanicThreshold.value == 20)
        // Priorities need no locality config; a failover list or distribute turns weighting on, as in Istio.
        #expect(ejecting.commonLbConfig.localityConfigSpecifier == nil)
        let failover = try cluster("{outlierDetection: {consecutive5xxErrors: 1}, loadBalancer: {localityLbSetting: {failover: [{from: a, to: b}]}}}")
        guard case .localityWeightedLbConfig? = failover.commonLbConfig.localityConfigSpecifier else {
            Issue.record("no locality_weighted_lb_config")
            return
        }
    }

    @Test func resolutionModesAreEnvoysClusterTypes() throws {
        func entry(_ resolution: String, _ endpoints: String) -> String {
            """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: reviews, namespace: default}
            spec: {hosts: [\(host)], ports: [{number: 9080, name: grpc, protocol: GRPC}], resolution: \(resolution), endpoints: \(endpoints)}
            """
        }
        let strict = try cluster(nil, registry: entry("DNS", "[{address: a.example.net}, {address: b.example.net}]"))
        #expect(strict.type == .strictDns)
        #expect(
            strict.loadAssignment.endpoints.flatMap(\.lbEndpoints).map(\.endpoint.address.socketAddress.address) == [
                "a.example.net", "b.example.net",
            ])
        #expect(try cluster(nil, registry: entry("DNS_ROUND_ROBIN", "[{address: a.example.net}]")).type == .logicalDns)
        let none = try cluster(nil, registry: entry("NONE", "[]"))
        #expect(none.type == .originalDst && none.lbPolicy == .clusterProvided)
    }

    private func tls(_ cluster: Envoy_Config_Cluster_V3_Cluster) throws -> Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext {
        #expect(cluster.transportSocket.name == UpstreamTLS.transportSocketName)
        return try Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext(serializedBytes: cluster.transportSocket.typedConfig.value)
    }

    @Test func istioMutualTakesCertificatesOverSDSFromTheAgent() throws {
        let context = try tls(try cluster("{tls: {mode: ISTIO_MUTUAL}}"))
        #expect(context.sni == "outbound_.9080_._.\(host)")
        let common = context.commonTlsContext
        #expect(common.tlsCertificateSdsSecretConfigs.map(\.name) == ["default"])
        let sds = try #require(common.tlsCertificateSdsSecretConfigs.first).sdsConfig.apiConfigSource
        #expect(sds.apiType == .grpc && sds.grpcServices.first?.envoyGrpc.clusterName == "sds-grpc")
        #expect(common.combinedValidationContext.validationContextSdsSecretConfig.name == "ROOTCA")
        #expect(
            common.combinedValidationContext.defaultValidationContext.matchTypedSubjectAltNames.map(\.matcher.exact)
                == ["spiffe://cluster.local/ns/default/sa/default"])
        #expect(!common.hasTlsCertificateProviderInstance)  // the proxyless shape never reaches Envoy
    }

    @Test func simpleAndMutualUseTheFilesTheRuleNames() throws {
        let simple = try tls(try cluster("{tls: {mode: SIMPLE, sni: api.example.com, subjectAltNames: [api.example.com]}}"))
        #expect(simple.sni == "api.example.com")
        #expect(simple.commonTlsContext.validationContext.trustedCa.filename == "/etc/ssl/certs/ca-certificates.crt")
        #expect(simple.commonTlsContext.validationContext.matchTypedSubjectAltNames.map(\.sanType) == [.dns])
        #expect(simple.commonTlsContext.tlsCertificates.isEmpty)
        let mutual = try tls(try cluster("{tls: {mode: MUTUAL, clientCertificate: /c.pem, privateKey: /k.pem, caCertificates: /ca.pem}}"))
        #expect(mutual.sni == host)
        #expect(mutual.commonTlsContext.validationContext.trustedCa.filename == "/ca.pem")
        #expect(mutual.commonTlsContext.tlsCertificates.first?.certificateChain.filename == "/c.pem")
        let insecure = try tls(try cluster("{tls: {mode: SIMPLE, insecureSkipVerify: true}}"))
        #expect(insecure.commonTlsContext.validationContext.trustChainVerification == .acceptUntrusted)
        #expect(!(try cluster("{tls: {mode: DISABLE}}")).hasTransportSocket)
    }
}

extension EnvoyTrafficPolicyTests {
    @Test(arguments: ["{httpCookie: {name: session, path: /, ttl: 60s}}", "{useSourceIp: true}", "{httpQueryParameterName: user}"])
    func envoyRoutesHashOnEveryKeyGRPCRoutesOnNone(key: String) throws {
        let rule = """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews, namespace: default}
            spec: {host: reviews, trafficPolicy: {loadBalancer: {consistentHash: \(key)}}}
            """
        let push = try pushContextFrom([CanaryFixture.registry, rule])
        func hashes(_ kind: ProxyKind) -> [Envoy_Config_Route_V3_RouteAction.HashPolicy] {
            let policy = push.destinationRules[host]?.first?.spec.policy(subset: nil, port: 9080) ?? PolicySettings()
            switch kind {
            case .proxylessGRPC: return ProxylessTrafficPolicy.hashPolicies(policy)
            case .sidecar, .gateway: return EnvoyTrafficPolicy.hashPolicies(policy)
            }
        }
        #expect(hashes(.proxylessGRPC).isEmpty)
        let envoy = hashes(.sidecar)
        #expect(envoy.count == 1)
        switch envoy.first?.policySpecifier {
        case .cookie(let cookie)?: #expect(cookie.name == "session" && cookie.path == "/" && cookie.ttl.seconds == 60)
        case .connectionProperties(let properties)?: #expect(properties.sourceIp)
        case .queryParameter(let parameter)?: #expect(parameter.name == "user")
        default: Issue.record("unexpected hash policy \(envoy)")
        }
    }
}

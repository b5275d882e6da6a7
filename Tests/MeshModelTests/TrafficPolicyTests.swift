import Testing

@testable import MeshModel

@Suite struct TrafficPolicyTests {
    private func rule(_ spec: String) throws -> DestinationRule {
        guard case .destinationRule(let rule) = try Fixtures.validate(kind: "DestinationRule", spec: spec) else {
            throw MeshModelError(code: .invalid, resource: nil, field: "", message: "not a DestinationRule")
        }
        return rule
    }

    private func refusal(_ spec: String) -> MeshModelError? {
        do {
            _ = try rule(spec)
            return nil
        } catch let error as MeshModelError {
            return error
        } catch {
            return nil
        }
    }

    /// Istio's rules, each refused at its field path.
    @Test(arguments: [
        ("trafficPolicy: {}", "spec.trafficPolicy", "at least one field"),
        (
            "trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN, consistentHash: {httpHeaderName: x}}}", "spec.trafficPolicy.loadBalancer",
            "only one of simple or consistentHash"
        ),
        ("trafficPolicy: {loadBalancer: {simple: FASTEST}}", "spec.trafficPolicy.loadBalancer.simple", "invalid load balancer"),
        (
            "trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x, useSourceIp: true}}}",
            "spec.trafficPolicy.loadBalancer.consistentHash", "only one of"
        ),
        (
            "trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: \"a b\"}}}",
            "spec.trafficPolicy.loadBalancer.consistentHash.httpHeaderName", "invalid HTTP header name"
        ),
        (
            "trafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {ttl: 1s}}}}",
            "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name", "name required"
        ),
        (
            "trafficPolicy: {loadBalancer: {consistentHash: {ringHash: {minimumRingSize: 8388609}}}}",
            "spec.trafficPolicy.loadBalancer.consistentHash.ringHash.minimumRingSize", "at most 8388608"
        ),
        (
            "trafficPolicy: {loadBalancer: {consistentHash: {maglev: {tableSize: 65536}}}}",
            "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize", "prime"
        ),
        (
            "trafficPolicy: {loadBalancer: {consistentHash: {minimumRingSize: 10, ringHash: {}}}}",
            "spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize", "only one of MinimumRingSize"
        ),
        ("trafficPolicy: {connectionPool: {}}", "spec.trafficPolicy.connectionPool", "at least one field"),
        (
            "trafficPolicy: {connectionPool: {http: {http2MaxRequests: -1}}}", "spec.trafficPolicy.connectionPool.http.http2MaxRequests",
            "must not be negative"
        ),
        (
            "trafficPolicy: {connectionPool: {http: {http2MaxRequests: 2147483648}}}", "spec.trafficPolicy.connectionPool.http.http2MaxRequests",
            "int32"
        ),
        ("trafficPolicy: {connectionPool: {tcp: {connectTimeout: 0.5ms}}}", "spec.trafficPolicy.connectionPool.tcp.connectTimeout", "at least 1ms"),
        (
            "trafficPolicy: {connectionPool: {http: {http2KeepAlive: {interval: 1s}}}}",
            "spec.trafficPolicy.connectionPool.http.http2KeepAlive.timeout", "required"
        ),
        (
            "trafficPolicy: {outlierDetection: {consecutive5xxErrors: 4294967296}}", "spec.trafficPolicy.outlierDetection.consecutive5xxErrors",
            "uint32"
        ),
        ("trafficPolicy: {outlierDetection: {interval: 0s}}", "spec.trafficPolicy.outlierDetection.interval", "at least 1ms"),
        (
            "trafficPolicy: {outlierDetection: {maxEjectionPercent: 101}}", "spec.trafficPolicy.outlierDetection.maxEjectionPercent",
            "between 0 and 100"
        ),
        (
            "trafficPolicy: {outlierDetection: {consecutiveLocalOriginFailures: 3}}",
            "spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures", "split external"
        ),
        (
            "trafficPolicy: {portLevelSettings: [{loadBalancer: {simple: RANDOM}}]}", "spec.trafficPolicy.portLevelSettings[0].port.number",
            "valid port"
        ),
        ("trafficPolicy: {portLevelSettings: [{port: {number: 80}}]}", "spec.trafficPolicy.portLevelSettings[0]", "at least one field"),
        (
            "subsets: [{name: v1, trafficPolicy: {outlierDetection: {baseEjectionTime: soon}}}]",
            "spec.subsets[0].trafficPolicy.outlierDetection.baseEjectionTime", "invalid duration"
        ),
        (
            "trafficPolicy: {loadBalancer: {localityLbSetting: {distribute: [{from: a/*, to: {b/*: 60, c: 30}}]}}}",
            "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to", "total locality weight 90 != 100"
        ),
        (
            "trafficPolicy: {loadBalancer: {localityLbSetting: {distribute: [{from: a/*, to: {b: 0, c: 100}}]}}}",
            "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to.b", "range [1, 100]"
        ),
        (
            "trafficPolicy: {loadBalancer: {localityLbSetting: {distribute: [{from: a/*/c, to: {b: 100}}]}}}",
            "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute", "must be in the end"
        ),
        (
            "trafficPolicy: {loadBalancer: {localityLbSetting: {distribute: [{from: a, to: {b: 50, b/z: 50}}]}}}",
            "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to", "overlap"
        ),
        (
            "trafficPolicy: {loadBalancer: {localityLbSetting: {distribute: [{from: a, to: {b: 100}}], failover: [{from: a, to: b}]}}}",
            "spec.trafficPolicy.loadBalancer.localityLbSetting", "simultaneously specify 'distribute' and 'failover'"
        ),
        (
            "trafficPolicy: {loadBalancer: {localityLbSetting: {failover: [{from: a, to: a}]}}}",
            "spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]", "different regions"
        ),
        (
            "trafficPolicy: {loadBalancer: {localityLbSetting: {failover: [{from: a/z, to: b}]}}}",
            "spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]", "only specify region"
        ),
        (
            "trafficPolicy: {loadBalancer: {localityLbSetting: {failover: [{from: a, to: b}], failoverPriority: [topology.kubernetes.io/zone]}}}",
            "spec.trafficPolicy.loadBalancer.localityLbSetting.failoverPriority[0]", "topology label"
        ),
        (
            "trafficPolicy: {loadBalancer: {localityLbSetting: {}, zoneAwareLbSetting: {}}}", "spec.trafficPolicy.loadBalancer",
            "only one of localityLbSetting and zoneAwareLbSetting"
        ),
        ("trafficPolicy: {loadBalancer: {warmup: {minimumPercent: 10}}}", "spec.trafficPolicy.loadBalancer.warmup.duration", "duration is required"),
        (
            "trafficPolicy: {loadBalancer: {warmup: {duration: 10s, minimumPercent: 101}}}", "spec.trafficPolicy.loadBalancer.warmup.minimumPercent",
            "less than or equal to 100"
        ),
        (
            "trafficPolicy: {loadBalancer: {warmup: {duration: 10s, aggression: 0}}}", "spec.trafficPolicy.loadBalancer.warmup.aggression",
            "greater than 0"
        ),
        ("trafficPolicy: {loadBalancer: {warmupDurationSecs: forever}}", "spec.trafficPolicy.loadBalancer.warmupDurationSecs", "invalid duration"),
        (
            "trafficPolicy: {tls: {mode: MUTUAL, privateKey: /k.pem}}", "spec.trafficPolicy.tls.clientCertificate",
            "client certificate required for mutual tls"
        ),
        (
            "trafficPolicy: {tls: {mode: MUTUAL, clientCertificate: /c.pem}}", "spec.trafficPolicy.tls.privateKey",
            "private key required for mutual tls"
        ),
        (
            "trafficPolicy: {tls: {mode: SIMPLE, credentialName: c, caCertificates: /ca.pem}}", "spec.trafficPolicy.tls.credentialName",
            "cannot specify client certificates"
        ),
        (
            "trafficPolicy: {tls: {mode: SIMPLE, insecureSkipVerify: true, subjectAltNames: [a]}}", "spec.trafficPolicy.tls.insecureSkipVerify",
            "InsecureSkipVerify"
        ),
        ("trafficPolicy: {tls: {mode: SIMPLE, sni: \"bad name\"}}", "spec.trafficPolicy.tls.sni", "invalid SNI"),
        ("trafficPolicy: {tls: {mode: STRICT}}", "spec.trafficPolicy.tls.mode", "invalid TLS mode"),
    ])
    func invalidPoliciesAreRefusedAtTheirPath(policy: String, path: String, message: String) throws {
        let error = try #require(refusal("host: r\n" + policy))
        #expect(error.field == path)
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test func aFullPolicyIsTyped() throws {
        let spec = """
            host: r
            trafficPolicy:
              loadBalancer: {consistentHash: {httpHeaderName: x-user, ringHash: {minimumRingSize: 64}}}
              connectionPool: {http: {http2MaxRequests: 7}, tcp: {maxConnections: 3, connectTimeout: 250ms}}
              outlierDetection: {consecutive5xxErrors: 5, interval: 1s, baseEjectionTime: 2s, maxEjectionPercent: 50}
            """
        let policy = try #require(try rule(spec).trafficPolicy?.settings)
        #expect(policy.loadBalancer?.consistentHash?.hashKey == .httpHeaderName("x-user"))
        #expect(policy.loadBalancer?.consistentHash?.ringSize == 64)
        #expect(policy.connectionPool?.http?.http2MaxRequests == 7)
        #expect(policy.connectionPool?.tcp?.connectTimeout == .milliseconds(250))
        #expect(
            policy.outlierDetection
                == OutlierDetection(
                    consecutive5xxErrors: 5, interval: .seconds(1),
                    baseEjectionTime: .seconds(2), maxEjectionPercent: 50))
    }

    /// Istio's MergeSubsetTrafficPolicy: a subset replaces the blocks it sets and keeps the
    /// others; a port-level entry (at either level) replaces all four blocks for its port.
    @Test func subsetAndPortLevelPoliciesMergeAsInIstio() throws {
        let spec = """
            host: r
            trafficPolicy:
              loadBalancer: {simple: ROUND_ROBIN}
              connectionPool: {http: {http2MaxRequests: 10}}
              tls: {mode: ISTIO_MUTUAL}
              portLevelSettings:
              - port: {number: 8080}
                connectionPool: {http: {http2MaxRequests: 80}}
            subsets:
            - name: v1
              labels: {version: v1}
              trafficPolicy:
                outlierDetection: {consecutive5xxErrors: 3}
            - name: v2
              labels: {version: v2}
              trafficPolicy:
                connectionPool: {http: {http2MaxRequests: 2}}
                portLevelSettings:
                - port: {number: 9080}
                  loadBalancer: {consistentHash: {httpHeaderName: x}}
            """
        let dr = try rule(spec)
        let top = dr.policy(subset: nil, port: 9080)
        #expect(top.connectionPool?.http?.http2MaxRequests == 10 && top.tlsMode == "ISTIO_MUTUAL")
        // The port-level entry inherits nothing: no load balancer, no TLS on 8080.
        let port8080 = dr.policy(subset: nil, port: 8080)
        #expect(port8080.connectionPool?.http?.http2MaxRequests == 80)
        #expect(port8080.loadBalancer == nil && port8080.tlsMode == nil)
        // v1 adds outlier detection and keeps the rest.
        let v1 = dr.policy(subset: "v1", port: 9080)
        #expect(v1.outlierDetection?.consecutive5xxErrors == 3)
        #expect(v1.connectionPool?.http?.http2MaxRequests == 10 && v1.loadBalancer?.simple == .roundRobin && v1.tlsMode == "ISTIO_MUTUAL")
        // v1 on 8080: the rule's port-level entry, then v1's outlier detection over it.
        let v1on8080 = dr.policy(subset: "v1", port: 8080)
        #expect(v1on8080.connectionPool?.http?.http2MaxRequests == 80 && v1on8080.outlierDetection != nil)
        // v2 on 9080: its port-level entry replaces every block, its subset-wide pool included.
        let v2 = dr.policy(subset: "v2", port: 9080)
        #expect(v2.loadBalancer?.consistentHash?.hashKey == .httpHeaderName("x"))
        #expect(v2.connectionPool == nil && v2.tlsMode == nil)
        // v2 on another port: its subset-wide pool over the rule's.
        let v2on8080 = dr.policy(subset: "v2", port: 8080)
        #expect(v2on8080.connectionPool?.http?.http2MaxRequests == 2)
    }

    private func warnings(_ spec: String) throws -> (notHonoured: [String], clients: [String]) {
        let resource = try ConfigDocumentParser.parse(Fixtures.document(kind: "DestinationRule", spec: spec))[0]
        let result = try ConfigValidator.validateForWrite(resource)
        return (result.notHonoured.map(\.path), result.clientLimits.map { "\($0.path): \($0.message)" })
    }

    /// Translated fields are no longer "not yet honoured"; fields gRPC cannot honour, and
    /// substitutions, are warned per kind of client.
    @Test func fieldsGRPCCannotHonourAreWarnedPerKind() throws {
        let spec = """
            host: r
            trafficPolicy:
              loadBalancer: {simple: LEAST_REQUEST}
              connectionPool:
                tcp: {maxConnections: 3, tcpKeepalive: {time: 10s}}
                http: {http2MaxRequests: 7, maxRetries: 2}
              outlierDetection: {consecutive5xxErrors: 5, interval: 1s, minHealthPercent: 20}
            subsets:
            - name: v1
              trafficPolicy:
                loadBalancer: {consistentHash: {httpCookie: {name: c, ttl: 0s}, maglev: {tableSize: 65537}}}
            """
        let (notHonoured, clients) = try warnings(spec)
        #expect(notHonoured.isEmpty)
        #expect(
            clients == [
                "spec.subsets[0].trafficPolicy.loadBalancer.consistentHash.httpCookie: not honoured by proxyless gRPC clients",
                "spec.subsets[0].trafficPolicy.loadBalancer.consistentHash.maglev: substituted for proxyless gRPC clients: a ring hash (default minimum ring size) is sent, gRPC has no maglev",
                "spec.trafficPolicy.connectionPool.http.maxRetries: not honoured by proxyless gRPC clients",
                "spec.trafficPolicy.connectionPool.tcp.maxConnections: not honoured by proxyless gRPC clients",
                "spec.trafficPolicy.connectionPool.tcp.tcpKeepalive: not honoured by proxyless gRPC clients",
                "spec.trafficPolicy.loadBalancer.simple: substituted for proxyless gRPC clients: ROUND_ROBIN is sent (gRPC accepts only ROUND_ROBIN and RING_HASH)",
                "spec.trafficPolicy.outlierDetection.consecutive5xxErrors: substituted for proxyless gRPC clients: failure-percentage ejection is sent (gRPC ignores consecutive-error ejection): an endpoint failing more than 85% of at least this many RPCs in an interval is ejected",
                "spec.trafficPolicy.outlierDetection.minHealthPercent: not honoured by proxyless gRPC clients",
            ])
        // What gRPC honours as written draws no warning at all.
        let honoured = try warnings(
            "host: r\ntrafficPolicy:\n  loadBalancer: {consistentHash: {httpHeaderName: x, ringHash: {minimumRingSize: 64}}}\n  connectionPool: {http: {http2MaxRequests: 1}}\n  portLevelSettings: [{port: {number: 80}, loadBalancer: {simple: ROUND_ROBIN}}]"
        )
        #expect(honoured.notHonoured.isEmpty && honoured.clients.isEmpty)
        // Fields outside the traffic-policy table keep the generic warning.
        #expect(try warnings("host: r\ntrafficPolicy: {retryBudget: {percent: {value: 20}}}").notHonoured == ["spec.trafficPolicy.retryBudget"])
    }
}

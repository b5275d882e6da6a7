/// The one table of per-kind support for the fields meshd translates (docs/istio-api-support.md
/// says the same in prose). Patterns are relative to a `TrafficPolicy`, in `HonouredFields`'
/// syntax (`P=VALUE` for one enum value, `P.*` for a subtree); `of(kind:)` expands them under
/// every place a DestinationRule holds a traffic policy. A pattern in this table counts as
/// translated by meshd (no "not yet honoured" warning); a kind that does not honour it gets its
/// own warning instead. A kind an entry does not name honours the field (Envoy, whose shapes
/// istiod's are, honours nearly everything: its exceptions are listed). The gateway column reads
/// the sidecar's until an entry names gateways itself (`column(for:)`).
public enum ClientSupport {
    /// The column a kind reads where an entry does not name it: gateways get Envoy's cluster and
    /// route shapes as sidecars do (istiod shares them), so they read the sidecar column.
    static func column(for kind: ProxyKind) -> ProxyKind? {
        switch kind {
        case .gateway: .sidecar
        case .proxylessGRPC, .sidecar: nil
        }
    }

    /// What `kind` makes of a field whose entry is `columns` (nil: honoured).
    public static func support(_ columns: [ProxyKind: FieldSupport], for kind: ProxyKind) -> FieldSupport? {
        columns[kind] ?? column(for: kind).flatMap { columns[$0] }
    }

    /// The warnings for a field at `path` whose entry is `columns`: one per group of kinds that
    /// make the same of it, Envoy kinds grouped apart from gRPC (so answers name "Envoy proxies"
    /// once where sidecars and gateways agree).
    static func findings(_ columns: [ProxyKind: FieldSupport], path: String) -> [IstioSchema.ClientFinding] {
        var groups: [(kinds: [ProxyKind], support: FieldSupport)] = []
        for kind in ProxyKind.allCases {
            guard let support = support(columns, for: kind), support != .honoured else { continue }
            if let last = groups.indices.last, groups[last].support == support, groups[last].kinds[0].isEnvoy == kind.isEnvoy {
                groups[last].kinds.append(kind)
            } else {
                groups.append(([kind], support))
            }
        }
        return groups.compactMap { group in
            group.support.warning(for: group.kinds).map { IstioSchema.ClientFinding(path: path, kinds: group.kinds, message: $0) }
        }
    }

    private static let roundRobinInstead = FieldSupport.substituted(
        "ROUND_ROBIN is sent (gRPC accepts only ROUND_ROBIN and RING_HASH)")

    /// Field pattern (relative to a TrafficPolicy) → support per client.
    static let trafficPolicy: [String: [ProxyKind: FieldSupport]] = [
        "loadBalancer": [.proxylessGRPC: .honoured],
        "loadBalancer.simple=ROUND_ROBIN": [.proxylessGRPC: .honoured],
        "loadBalancer.simple=UNSPECIFIED": [.proxylessGRPC: .honoured],
        "loadBalancer.simple=LEAST_REQUEST": [.proxylessGRPC: roundRobinInstead],
        "loadBalancer.simple=LEAST_CONN": [.proxylessGRPC: roundRobinInstead],
        "loadBalancer.simple=RANDOM": [.proxylessGRPC: roundRobinInstead],
        "loadBalancer.simple=PASSTHROUGH": [.proxylessGRPC: roundRobinInstead],
        "loadBalancer.consistentHash": [.proxylessGRPC: .honoured],
        "loadBalancer.consistentHash.httpHeaderName": [.proxylessGRPC: .honoured],
        "loadBalancer.consistentHash.httpCookie.*": [.proxylessGRPC: .notHonoured],
        "loadBalancer.consistentHash.useSourceIp": [.proxylessGRPC: .notHonoured],
        "loadBalancer.consistentHash.httpQueryParameterName": [.proxylessGRPC: .notHonoured],
        "loadBalancer.consistentHash.ringHash": [.proxylessGRPC: .honoured],
        "loadBalancer.consistentHash.ringHash.minimumRingSize": [.proxylessGRPC: .honoured],
        "loadBalancer.consistentHash.maglev.*": [
            .proxylessGRPC: .substituted(
                "a ring hash (default minimum ring size) is sent, gRPC has no maglev")
        ],
        "loadBalancer.consistentHash.minimumRingSize": [.proxylessGRPC: .honoured],
        "connectionPool": [.proxylessGRPC: .honoured],
        "connectionPool.http": [.proxylessGRPC: .honoured],
        "connectionPool.http.http2MaxRequests": [.proxylessGRPC: .honoured],
        "connectionPool.http.http1MaxPendingRequests": [.proxylessGRPC: .notHonoured],
        "connectionPool.http.maxRequestsPerConnection": [.proxylessGRPC: .notHonoured],
        "connectionPool.http.maxRetries": [.proxylessGRPC: .notHonoured],
        "connectionPool.http.idleTimeout": [.proxylessGRPC: .notHonoured],
        "connectionPool.http.h2UpgradePolicy": [.proxylessGRPC: .notHonoured],
        "connectionPool.http.useClientProtocol": [.proxylessGRPC: .notHonoured],
        "connectionPool.http.maxConcurrentStreams": [.proxylessGRPC: .notHonoured],
        "connectionPool.http.http2KeepAlive.*": [.proxylessGRPC: .notHonoured],
        "connectionPool.tcp": [.proxylessGRPC: .honoured],
        "connectionPool.tcp.maxConnections": [.proxylessGRPC: .notHonoured],
        "connectionPool.tcp.connectTimeout": [.proxylessGRPC: .notHonoured],
        "connectionPool.tcp.tcpKeepalive.*": [.proxylessGRPC: .notHonoured],
        "connectionPool.tcp.maxConnectionDuration": [.proxylessGRPC: .notHonoured],
        "connectionPool.tcp.idleTimeout": [.proxylessGRPC: .notHonoured],
        "outlierDetection": [.proxylessGRPC: .honoured],
        "outlierDetection.consecutive5xxErrors": [
            .proxylessGRPC: .substituted(
                "failure-percentage ejection is sent (gRPC ignores consecutive-error ejection): an endpoint failing more than 85% of at least this many RPCs in an interval is ejected"
            )
        ],
        "outlierDetection.consecutiveGatewayErrors": [
            .proxylessGRPC: .substituted(
                "failure-percentage ejection is sent (gRPC ignores consecutive-error ejection): an endpoint failing more than 85% of at least this many RPCs in an interval is ejected; every failed RPC counts, not only gateway errors"
            )
        ],
        "outlierDetection.interval": [.proxylessGRPC: .honoured],
        "outlierDetection.baseEjectionTime": [.proxylessGRPC: .honoured],
        "outlierDetection.maxEjectionPercent": [.proxylessGRPC: .honoured],
        "outlierDetection.minHealthPercent": [.proxylessGRPC: .notHonoured],
        // Deprecated by Istio, which ignores it too.
        "outlierDetection.consecutiveErrors": [.proxylessGRPC: .notHonoured, .sidecar: .notHonoured],
        "outlierDetection.splitExternalLocalOriginErrors": [.proxylessGRPC: .notHonoured],
        "outlierDetection.consecutiveLocalOriginFailures": [.proxylessGRPC: .notHonoured],
        "outlierDetection.outlierDetectionHttpErrorCodes": [.proxylessGRPC: .notHonoured, .sidecar: .notHonoured],
        // gRPC honours locality weights and priorities (gRFC A27's priority and weighted_target policies).
        "loadBalancer.localityLbSetting.*": [.proxylessGRPC: .honoured],
        "loadBalancer.warmupDurationSecs": [.proxylessGRPC: .notHonoured],
        "loadBalancer.warmup.*": [.proxylessGRPC: .notHonoured],
        "tls": [.proxylessGRPC: .honoured],
        "tls.mode=DISABLE": [.proxylessGRPC: .honoured],
        "tls.mode=ISTIO_MUTUAL": [.proxylessGRPC: .honoured],
        // gRPC's xDS client takes TLS material only from certificate providers in its own
        // bootstrap, never from files or secrets named in xDS (gRFC A29). Istio sends nothing
        // for these modes; so does meshd, and the client's own fallback credentials apply.
        "tls.mode=SIMPLE": [.proxylessGRPC: tlsFromClient],
        "tls.mode=MUTUAL": [.proxylessGRPC: tlsFromClient],
        // With ISTIO_MUTUAL these replace the identities accepted from the server.
        "tls.subjectAltNames": [.proxylessGRPC: .honoured],
        "tls.clientCertificate": [.proxylessGRPC: .notHonoured],
        "tls.privateKey": [.proxylessGRPC: .notHonoured],
        "tls.caCertificates": [.proxylessGRPC: .notHonoured],
        "tls.caCrl": [.proxylessGRPC: .notHonoured],
        "tls.sni": [.proxylessGRPC: .notHonoured],
        "tls.insecureSkipVerify": [.proxylessGRPC: .notHonoured],
    ]

    private static let tlsFromClient = FieldSupport.substituted(
        "no TLS settings are sent (gRPC takes certificates only from its bootstrap's certificate providers), so the client's own fallback channel credentials decide, as with Istio"
    )

    /// Where a DestinationRule holds a traffic policy (patterns, list indices left out).
    static let policyLocations = [
        "trafficPolicy", "trafficPolicy.portLevelSettings",
        "subsets.trafficPolicy", "subsets.trafficPolicy.portLevelSettings",
    ]

    /// The table for resources of `kind`, patterns relative to the spec.
    /// VirtualService match conditions whose meaning differs for gRPC clients.
    static let virtualService: [String: [ProxyKind: FieldSupport]] = [
        // gRPC's header matchers never match an absent header, inverted or not, and gRPC does not
        // read treat_missing_header_as_empty.
        "http.match.withoutHeaders": [
            .proxylessGRPC: .substituted(
                "honoured when the request carries the header; gRPC clients never match a request without it, so such requests fall through to later rules"
            )
        ],
        // A gRPC request has no query string, so such a match can never hold for it; gRPC skips
        // the route outright, which is the same outcome.
        "http.match.queryParams": [.proxylessGRPC: .notHonoured],
        // gRPC clients neither follow redirects nor read direct responses; they fail the RPCs such
        // a route matches with UNAVAILABLE, so the route still catches what it matches.
        "http.redirect": [
            .proxylessGRPC: .substituted("gRPC clients fail the RPCs this rule matches with UNAVAILABLE (gRPC cannot follow a redirect)")
        ],
        "http.directResponse": [
            .proxylessGRPC: .substituted("gRPC clients fail the RPCs this rule matches with UNAVAILABLE (gRPC cannot read a direct response)")
        ],
        // Translated for Envoy; grpc-core reads none of prefix_rewrite, regex_rewrite,
        // host_rewrite_literal, the header operation fields or request_mirror_policies, so the
        // RPCs route exactly as without them. CORS is not sent to gRPC clients at all (they NACK
        // a per-route configuration of a filter they do not know), nor are TCP and TLS routes.
        "http.rewrite.*": [.proxylessGRPC: .notHonoured],
        "http.headers.*": [.proxylessGRPC: .notHonoured],
        "http.route.headers.*": [.proxylessGRPC: .notHonoured],
        "http.mirror.*": [.proxylessGRPC: .notHonoured],
        "http.mirrors.*": [.proxylessGRPC: .notHonoured],
        "http.mirrorPercentage.*": [.proxylessGRPC: .notHonoured],
        "http.mirrorPercent": [.proxylessGRPC: .notHonoured],
        "http.corsPolicy.*": [.proxylessGRPC: .notHonoured],
        "tcp.*": [.proxylessGRPC: .notHonoured],
        "tls.*": [.proxylessGRPC: .notHonoured],
    ]

    /// A gRPC server matches filter chains on `raw_buffer` only (gRFC A36: `server_names`,
    /// `application_protocols` and `destination_port` never match), so it cannot serve TLS and
    /// plaintext on one port: PERMISSIVE gets plaintext, as istiod sends it.
    private static let permissiveAsPlaintext = FieldSupport.substituted(
        "plaintext is served (a gRPC server cannot serve mutual TLS and plaintext on one port, gRFC A36); set STRICT to require mutual TLS")

    /// PeerAuthentication modes: Envoy sidecars serve every mode on `virtualInbound` as istiod
    /// does; proxyless gRPC servers cannot serve PERMISSIVE.
    static let peerAuthentication: [String: [ProxyKind: FieldSupport]] = [
        "mtls.mode=PERMISSIVE": [.proxylessGRPC: permissiveAsPlaintext],
        "portLevelMtls.mode=PERMISSIVE": [.proxylessGRPC: permissiveAsPlaintext],
    ]

    /// AuthorizationPolicy actions: Envoy sidecars and gateways enforce ALLOW and DENY, log AUDIT
    /// matches (RBAC LOG) and delegate CUSTOM to ext_authz; gRPC servers have no audit log and no
    /// external authorizer.
    static let authorizationPolicy: [String: [ProxyKind: FieldSupport]] = [
        "action=AUDIT": [.proxylessGRPC: .notHonoured],
        "action=CUSTOM": [
            .proxylessGRPC: .substituted(
                "proxyless gRPC servers have no external authorizer: the requests this policy's rules select are denied there (fail-closed)")
        ],
        "provider.*": [.proxylessGRPC: .notHonoured],
    ]

    /// gRPC's xDS filters include no JWT verification (as with istiod, which sends proxyless
    /// servers no jwt_authn): the rules reach Envoy sidecars and gateways only.
    static let requestAuthentication: [String: [ProxyKind: FieldSupport]] = [
        "jwtRules.*": [
            .proxylessGRPC: .substituted(
                "proxyless gRPC servers verify no JWT: tokens are not checked there, and an AuthorizationPolicy that needs a request principal or claim allows nothing there (fail-closed)"
            )
        ]
    ]

    /// ServiceEntry fields whose effect differs for gRPC clients.
    static let serviceEntry: [String: [ProxyKind: FieldSupport]] = {
        var table: [String: [ProxyKind: FieldSupport]] = [
            "resolution=STATIC": [.proxylessGRPC: .honoured],
            "resolution=DNS_ROUND_ROBIN": [.proxylessGRPC: .honoured],
            "resolution=NONE": [
                .proxylessGRPC: .substituted(
                    "gRPC clients cannot pass traffic through to the address they dialed: they use the entry's endpoints or selected workloads, as with STATIC"
                )
            ],
            "resolution=DNS": [
                .proxylessGRPC: .substituted(
                    "gRPC clients resolve one name (a LOGICAL_DNS cluster; gRPC has no STRICT_DNS): the first endpoint's name, or the host when there are no endpoints; endpoints that are all IP addresses are sent over EDS"
                )
            ],
            // No auto mTLS for gRPC clients, so inside or outside the mesh changes nothing for them.
            "location": [.proxylessGRPC: .honoured],
            "subjectAltNames": [.proxylessGRPC: .honoured],
            // gRPC clients dial names; a virtual IP is never looked up.
            "addresses": [.proxylessGRPC: .notHonoured],
            "endpoints.network": [.proxylessGRPC: .honoured],
        ]
        for name in ["TCP", "TLS", "HTTPS", "MONGO", "MYSQL", "REDIS", "UDP"] {
            table["ports.protocol=\(name)"] = [.proxylessGRPC: .substituted("gRPC clients speak gRPC (HTTP/2) on every port")]
        }
        return table
    }()

    /// Telemetry (docs/telemetry.md): access logs and tracing go into Envoy's
    /// HttpConnectionManager and tcp_proxy; gRPC takes neither from xDS, and no kind can take
    /// metrics overrides through xDS.
    static let telemetry: [String: [ProxyKind: FieldSupport]] = [
        "accessLogging.*": [
            .proxylessGRPC: .notHonouredBecause("gRPC writes no access log from xDS; log in the application (an interceptor)")
        ],
        "tracing": [
            .proxylessGRPC: .notHonouredBecause(
                "gRPC takes no tracer or sampling from xDS; trace with its OpenTelemetry plugin (grpcio-observability), configured in the process")
        ],
        "metrics.*": [
            .proxylessGRPC: .notHonouredBecause(
                "gRPC's metrics are configured in the process (its OpenTelemetry plugin), not over xDS"),
            .sidecar: .notHonouredBecause(
                "stock Envoy has no istio.stats filter: its standard statistics (served on 15090) cannot be enabled, disabled, relabelled or re-timed over xDS"
            ),
        ],
    ]

    /// Fields only Envoy sidecars act on: proxyless clients have no capture and no passthrough.
    static let sidecar: [String: [ProxyKind: FieldSupport]] = [
        "outboundTrafficPolicy": [.proxylessGRPC: .notHonoured],
        // A gRPC server has no sidecar in front of it.
        "ingress": [.proxylessGRPC: .notHonoured],
    ]

    static func of(_ kind: String) -> [String: [ProxyKind: FieldSupport]] {
        switch kind {
        case "DestinationRule": destinationRule
        case "ServiceEntry": serviceEntry
        case "VirtualService": virtualService
        case "PeerAuthentication": peerAuthentication
        case "AuthorizationPolicy": authorizationPolicy
        case "RequestAuthentication": requestAuthentication
        case "Sidecar": sidecar
        case "Telemetry": telemetry
        default: [:]
        }
    }

    private static let destinationRule: [String: [ProxyKind: FieldSupport]] = {
        var table: [String: [ProxyKind: FieldSupport]] = [:]
        for location in policyLocations {
            for (pattern, columns) in trafficPolicy { table["\(location).\(pattern)"] = columns }
        }
        return table
    }()
}

/// The spec fields meshd translates today, per kind, as dotted field-name patterns (list
/// indices and map keys left out). A pattern admits its field; `PATTERN.*` admits the whole
/// subtree; `PATTERN=VALUE` admits an enum field only when set to that value. Every other field in Istio's schema is accepted and answered with a "not yet
/// honoured by meshd" warning (`IstioSchema.check`). Keep this list true: a field goes in only
/// when the translator reads it; docs/istio-api-support.md says the same per field.
enum HonouredFields {
    static func of(_ kind: String) -> Set<String> {
        switch kind {
        case "VirtualService": virtualService
        case "DestinationRule": destinationRule
        case "ServiceEntry": serviceEntry
        case "WorkloadEntry": workloadEntry
        case "Gateway": gateway
        case "Sidecar": sidecar
        case "PeerAuthentication": peerAuthentication
        case "AuthorizationPolicy": authorizationPolicy
        case "RequestAuthentication": requestAuthentication
        case "Telemetry": telemetry
        case "MeshConfig": MeshConfig.honoured
        // meshd's own kind: every field of its schema is read.
        case "Canary": ["host", "virtualService", "from", "to", "steps", "interval", "analysis.*"]
        default: []
        }
    }

    /// `exact`, `prefix` and `regex` of a StringMatch under `base`.
    private static func stringMatch(_ base: String) -> [String] {
        [base, "\(base).exact", "\(base).prefix", "\(base).regex"]
    }

    static let virtualService: Set<String> = Set(
        [
            "hosts", "gateways", "http", "http.name", "http.match", "http.match.name", "http.match.port",
            "http.match.ignoreUriCase", "http.match.gateways", "http.match.sourceLabels.*", "http.match.sourceNamespace",
            "http.route", "http.route.weight", "http.route.destination", "http.route.destination.host",
            "http.route.destination.subset", "http.route.destination.port", "http.route.destination.port.number",
            "exportTo", "http.timeout", "http.retries",
            "http.redirect", "http.redirect.uri", "http.redirect.authority", "http.redirect.port", "http.redirect.scheme",
            "http.redirect.redirectCode", "http.directResponse", "http.directResponse.status", "http.directResponse.body",
            "http.directResponse.body.string",
            "http.fault", "http.fault.delay", "http.fault.delay.fixedDelay", "http.fault.delay.percentage.*", "http.fault.delay.percent",
            "http.fault.abort", "http.fault.abort.httpStatus", "http.fault.abort.grpcStatus", "http.fault.abort.percentage.*",
            "http.retries.attempts", "http.retries.perTryTimeout", "http.retries.retryOn",
            "http.redirect.derivePort",
        ] + stringMatch("http.match.uri") + stringMatch("http.match.headers") + stringMatch("http.match.withoutHeaders")
            + stringMatch("http.match.queryParams")
            + stringMatch("http.match.method") + stringMatch("http.match.authority") + stringMatch("http.match.scheme")
    )
    // What gRPC clients do not honour is still translated (for Envoy): the per-kind table.
    .union(ClientSupport.virtualService.keys)

    /// Traffic policies (rule, port-level, subset, subset port-level) merged as Istio merges
    /// them; the blocks' fields and what each kind of client makes of them are in `ClientSupport`.
    static let destinationRule: Set<String> = {
        var fields: Set<String> = ["host", "exportTo", "subsets", "subsets.name", "subsets.labels.*"]
        // `tls.credentialName` is the one TLS field left out: meshd holds no secrets to serve yet.
        fields.formUnion(ClientSupport.policyLocations)
        fields.formUnion([
            "trafficPolicy.portLevelSettings.port", "trafficPolicy.portLevelSettings.port.number",
            "subsets.trafficPolicy.portLevelSettings.port", "subsets.trafficPolicy.portLevelSettings.port.number",
        ])
        return fields.union(ClientSupport.of("DestinationRule").keys)
    }()

    /// Resolution modes, `location`, `addresses` and what gRPC clients make of them are in
    /// `ClientSupport`.
    static let serviceEntry: Set<String> = Set([
        "hosts", "exportTo", "ports", "ports.number", "ports.name", "ports.protocol", "ports.targetPort",
        "workloadSelector", "workloadSelector.labels.*",
        "endpoints", "endpoints.address", "endpoints.ports.*", "endpoints.labels.*", "endpoints.locality",
        "endpoints.weight", "endpoints.serviceAccount",
    ]).union(ClientSupport.of("ServiceEntry").keys)

    /// Every field: proxyless gRPC servers get the mode in their inbound listener, Envoy
    /// sidecars in `virtualInbound`'s chains; what a gRPC server makes of PERMISSIVE is in
    /// `ClientSupport`.
    static let peerAuthentication: Set<String> = Set([
        "selector", "selector.matchLabels.*", "mtls", "mtls.mode", "portLevelMtls", "portLevelMtls.mode",
    ]).union(ClientSupport.of("PeerAuthentication").keys)

    /// Selector, action and every rule field become the server's RBAC filters (a gRPC server's,
    /// an Envoy sidecar's HTTP and network ones); what a server cannot check fails closed and
    /// is warned about (`AuthorizationPolicy.advisories`), AUDIT and CUSTOM in `ClientSupport`.
    /// `targetRef(s)` name Gateway API gateways and waypoints, which meshd does not serve yet:
    /// not honoured.
    static let authorizationPolicy: Set<String> = {
        var fields: Set<String> = [
            "selector", "selector.matchLabels.*", "action", "rules", "rules.from", "rules.from.source",
            "rules.to", "rules.to.operation", "rules.when", "rules.when.key", "rules.when.values",
            "rules.when.notValues",
        ]
        for field in [
            "principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals", "namespaces", "notNamespaces",
            "serviceAccounts", "notServiceAccounts", "ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks",
            "trustDomains", "notTrustDomains",
        ] {
            fields.insert("rules.from.source.\(field)")
        }
        for field in ["hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths"] {
            fields.insert("rules.to.operation.\(field)")
        }
        return fields.union(ClientSupport.of("AuthorizationPolicy").keys)
    }()

    /// Every JWT rule field becomes Envoy's `jwt_authn` filter on sidecars' inbound HTTP chains
    /// and gateways (proxyless gRPC servers verify no JWT: `ClientSupport`). `targetRef(s)` name
    /// Gateway API gateways and waypoints, which meshd does not serve yet: not honoured.
    static let requestAuthentication: Set<String> = Set([
        "selector", "selector.matchLabels.*",
    ]).union(ClientSupport.of("RequestAuthentication").keys)

    /// Access logging and tracing become Envoy's access loggers and tracer (docs/telemetry.md);
    /// what no kind honours (metrics) and what gRPC does not are in `ClientSupport`. Tracing's
    /// `useRequestIdForTraceSampling`, `enableIstioTags` and `disableContextPropagation`, and
    /// `targetRef(s)` (Gateway API gateways and waypoints), are not honoured yet.
    static let telemetry: Set<String> = Set([
        "selector", "selector.matchLabels.*", "tracing.match", "tracing.match.mode", "tracing.providers", "tracing.providers.name",
        "tracing.randomSamplingPercentage", "tracing.disableSpanReporting", "tracing.customTags.*",
    ]).union(ClientSupport.of("Telemetry").keys)

    /// Egress hosts and ports decide what a proxy sees; the outbound traffic policy and ingress
    /// listeners act in Envoy sidecars' listeners (`ClientSupport`). Capture modes, binds and
    /// ingress TLS are not honoured yet.
    static let sidecar: Set<String> = Set([
        "workloadSelector", "workloadSelector.labels.*", "egress", "egress.hosts", "egress.port", "egress.port.number",
        "outboundTrafficPolicy.mode", "ingress.port", "ingress.port.number", "ingress.port.protocol", "ingress.port.name", "ingress.defaultEndpoint",
    ]).union(ClientSupport.of("Sidecar").keys)

    /// Gateways configure Envoy gateway proxies, the only kind that reads them. Certificates by
    /// file path are read by Envoy itself; several credentials per server, a separate CA
    /// credential, `insecureSkipVerify` and `defaultEndpoint` (meaningful for sidecar ingress
    /// only) are not honoured yet.
    static let gateway: Set<String> = [
        "selector.*", "servers", "servers.port", "servers.port.number", "servers.port.protocol", "servers.port.name",
        "servers.hosts", "servers.name", "servers.bind", "servers.tls", "servers.tls.httpsRedirect", "servers.tls.mode",
        "servers.tls.credentialName", "servers.tls.serverCertificate", "servers.tls.privateKey", "servers.tls.caCertificates",
        "servers.tls.caCrl", "servers.tls.subjectAltNames", "servers.tls.verifyCertificateSpki", "servers.tls.verifyCertificateHash",
        "servers.tls.minProtocolVersion", "servers.tls.maxProtocolVersion", "servers.tls.cipherSuites",
    ]

    static let workloadEntry: Set<String> = [
        // `network` is compared by `failoverPriority` (topology.istio.io/network); meshd is one network.
        "address", "ports.*", "labels.*", "locality", "weight", "serviceAccount", "network",
    ]
}

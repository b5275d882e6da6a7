/// The spec fields meshd translates today, per kind, as dotted field-name patterns (list
/// indices and map keys left out). A pattern admits its field; `PATTERN.*` admits the whole
/// subtree. Every other field in Istio's schema is accepted and answered with a "not yet
/// honoured by meshd" warning (`IstioSchema.check`). Keep this list true: a field goes in only
/// when the translator reads it; docs/istio-api-support.md says the same per field.
enum HonouredFields {
    static func of(_ kind: String) -> Set<String> {
        switch kind {
        case "VirtualService": virtualService
        case "DestinationRule": destinationRule
        case "ServiceEntry": serviceEntry
        case "WorkloadEntry": workloadEntry
        default: []
        }
    }

    /// `exact`, `prefix` and `regex` of a StringMatch under `base`.
    private static func stringMatch(_ base: String) -> [String] {
        [base, "\(base).exact", "\(base).prefix", "\(base).regex"]
    }

    static let virtualService: Set<String> = Set([
        "hosts", "http", "http.name", "http.match", "http.match.name", "http.match.port",
        "http.route", "http.route.weight", "http.route.destination", "http.route.destination.host",
        "http.route.destination.subset", "http.route.destination.port", "http.route.destination.port.number",
        "http.timeout", "http.retries", "http.retries.attempts", "http.retries.perTryTimeout", "http.retries.retryOn",
    ] + stringMatch("http.match.uri") + stringMatch("http.match.headers"))

    static let destinationRule: Set<String> = [
        "host", "subsets", "subsets.name", "subsets.labels.*",
        // Only the mode, and of the modes only ISTIO_MUTUAL changes what proxies get.
        "trafficPolicy", "trafficPolicy.tls", "trafficPolicy.tls.mode",
    ]

    static let serviceEntry: Set<String> = [
        "hosts", "ports", "ports.number", "ports.name", "ports.protocol", "ports.targetPort",
        "workloadSelector", "workloadSelector.labels.*",
        "endpoints", "endpoints.address", "endpoints.ports.*", "endpoints.labels.*", "endpoints.locality",
        "endpoints.weight", "endpoints.serviceAccount",
    ]

    static let workloadEntry: Set<String> = [
        "address", "ports.*", "labels.*", "locality", "weight", "serviceAccount",
    ]
}

extension Telemetry {
    /// Reads and validates a spec with Istio's `ValidateTelemetry` rules and the CRD's, plus
    /// Envoy's PGV rules on what becomes Envoy config (header names of custom tags), so Envoy
    /// never NACKs what was accepted.
    init(reading spec: FieldReader) throws(MeshModelError) {
        selector = try WorkloadSelectorReading.matchLabels(spec["selector"])
        if !spec["selector"].isAbsent, !spec["targetRef"].isAbsent || !spec["targetRefs"].isAbsent {
            throw spec["selector"].error("only one of targetRefs or selector can be set")
        }
        if !spec["targetRef"].isAbsent, !spec["targetRefs"].isAbsent {
            throw spec["targetRef"].error("only one of targetRef or targetRefs can be set")
        }
        if try spec["targetRefs"].list().count > 16 { throw spec["targetRefs"].error("at most 16 target references") }
        hasTargetRef = !spec["targetRef"].isAbsent || !spec["targetRefs"].isAbsent
        tracing = []
        for reader in try spec["tracing"].list() {
            guard try reader.object() != nil else { throw reader.error("a tracing entry must not be null") }
            tracing.append(try Tracing(reading: reader))
        }
        accessLogging = []
        for reader in try spec["accessLogging"].list() {
            guard try reader.object() != nil else { throw reader.error("an access logging entry must not be null") }
            accessLogging.append(try AccessLogging(reading: reader))
        }
        metrics = []
        for reader in try spec["metrics"].list() {
            guard try reader.object() != nil else { throw reader.error("a metrics entry must not be null") }
            metrics.append(try Metrics(reading: reader))
        }
    }

    /// `providers[].name`, each non-empty (Istio: `providers.name may not be empty`).
    static func providerNames(_ reader: FieldReader) throws(MeshModelError) -> [String] {
        var names: [String] = []
        for element in try reader.list() {
            guard try element.object() != nil else { throw element.error("a provider reference must not be null") }
            names.append(try element["name"].requiredString())
        }
        return names
    }

    /// `match.mode` of a selector message; CLIENT_AND_SERVER when absent.
    static func mode(_ match: FieldReader) throws(MeshModelError) -> WorkloadMode {
        guard try match.object() != nil else { return .clientAndServer }
        let text = try match["mode"].oneOf(WorkloadMode.allCases.map(\.rawValue), what: "mode")
        return text.flatMap(WorkloadMode.init(rawValue:)) ?? .clientAndServer
    }
}

extension Telemetry.Tracing {
    init(reading reader: FieldReader) throws(MeshModelError) {
        mode = try Telemetry.mode(reader["match"])
        providers = try Telemetry.providerNames(reader["providers"])
        let percentage = reader["randomSamplingPercentage"]
        if !percentage.isAbsent {
            guard case .number(let value)? = percentage.value else { throw percentage.error("expected a number") }
            guard value >= 0, value <= 100 else { throw percentage.error("randomSamplingPercentage must be in range [0.0, 100.0]") }
            randomSamplingPercentage = value
        }
        disableSpanReporting = try reader["disableSpanReporting"].boolean()
        if try reader["customTags"].object() != nil {
            var tags: [String: Telemetry.CustomTag] = [:]
            for (name, tag) in try reader["customTags"].members() {
                if name.isEmpty { throw tag.error("tag name may not be empty") }
                tags[name] = try Telemetry.CustomTag(reading: tag, name: name)
            }
            customTags = tags
        }
        _ = try reader["useRequestIdForTraceSampling"].boolean()
        _ = try reader["enableIstioTags"].boolean()
        _ = try reader["disableContextPropagation"].boolean()
    }
}

extension Telemetry.CustomTag {
    init(reading tag: FieldReader, name: String) throws(MeshModelError) {
        guard try tag.object() != nil else { throw tag.error("tag '\(name)' may not have a nil value") }
        let kinds = ["literal", "environment", "header", "formatter"].filter { !tag[$0].isAbsent }
        guard kinds.count == 1, let kind = kinds.first else {
            throw tag.error(
                kinds.isEmpty
                    ? "tag '\(name)' must set one of literal, environment, header, formatter"
                    : "tag '\(name)' sets one of literal, environment, header, formatter; found \(kinds.joined(separator: " and "))")
        }
        let body = tag[kind]
        guard try body.object() != nil else { throw body.error("expected an object") }
        switch kind {
        case "literal":
            self = .literal(try Self.required(body["value"], "literal tag value may not be empty"))
        case "environment":
            let variable = try Self.required(body["name"], "environment tag name may not be empty")
            self = .environment(name: variable, defaultValue: try body["defaultValue"].string() ?? "")
        case "header":
            let header = try Self.required(body["name"], "header tag name may not be empty")
            // Envoy's PGV rule on CustomTag.Header.name (HTTP_HEADER_NAME, not strict).
            guard !header.unicodeScalars.contains(where: { $0 == "\0" || $0 == "\r" || $0 == "\n" }) else {
                throw body["name"].error("\"\(header)\" is not an HTTP header name")
            }
            self = .header(name: header, defaultValue: try body["defaultValue"].string() ?? "")
        default:
            self = .formatter(try Self.required(body["value"], "formatter tag value may not be empty"))
        }
    }

    private static func required(_ reader: FieldReader, _ message: String) throws(MeshModelError) -> String {
        guard let value = try reader.string(), !value.isEmpty else { throw reader.error(message) }
        return value
    }
}

extension Telemetry.AccessLogging {
    init(reading reader: FieldReader) throws(MeshModelError) {
        mode = try Telemetry.mode(reader["match"])
        providers = try Telemetry.providerNames(reader["providers"])
        disabled = try reader["disabled"].boolean()
        let filterReader = reader["filter"]
        if try filterReader.object() != nil {
            let expression = filterReader["expression"]
            guard let text = try expression.string(), !text.isEmpty else {
                throw expression.error("must be a valid CEL expression: it is empty")
            }
            if let problem = CELSyntax.problem(in: text) { throw expression.error("must be a valid CEL expression: \(problem)") }
            filter = text
        }
    }
}

extension Telemetry.Metrics {
    /// The metric names of `MetricSelector.IstioMetric`.
    static let istioMetrics = [
        "ALL_METRICS", "REQUEST_COUNT", "REQUEST_DURATION", "REQUEST_SIZE", "RESPONSE_SIZE", "TCP_OPENED_CONNECTIONS",
        "TCP_CLOSED_CONNECTIONS", "TCP_SENT_BYTES", "TCP_RECEIVED_BYTES", "GRPC_REQUEST_MESSAGES", "GRPC_RESPONSE_MESSAGES",
    ]

    init(reading reader: FieldReader) throws(MeshModelError) {
        providers = try Telemetry.providerNames(reader["providers"])
        if let interval = try reader["reportingInterval"].durationValue(), interval <= .zero {
            throw reader["reportingInterval"].error("reportingInterval must be positive")
        }
        let overrides = try reader["overrides"].list()
        overrideCount = overrides.count
        for override in overrides {
            guard try override.object() != nil else { throw override.error("tagOverrides may not be null") }
            let match = override["match"]
            if try match.object() != nil {
                if !match["metric"].isAbsent, !match["customMetric"].isAbsent {
                    throw match.error("only one of metric or customMetric can be set")
                }
                _ = try match["metric"].oneOf(Self.istioMetrics, what: "metric")
                if !match["customMetric"].isAbsent, (try match["customMetric"].string() ?? "").isEmpty {
                    throw match["customMetric"].error("customMetric may not be empty")
                }
                _ = try Telemetry.mode(match)
            }
            _ = try override["disabled"].boolean()
            for (name, tag) in try override["tagOverrides"].members() {
                if name.isEmpty { throw tag.error("tagOverrides.name may not be empty") }
                guard try tag.object() != nil else { throw tag.error("tagOverrides may not be null") }
                let operation = try tag["operation"].oneOf(["UPSERT", "REMOVE"], what: "operation") ?? "UPSERT"
                let value = try tag["value"].string() ?? ""
                if operation == "UPSERT", value.isEmpty { throw tag["value"].error("value must be set when operation is UPSERT") }
                if operation == "REMOVE", !tag["value"].isAbsent { throw tag["value"].error("value must not be set when operation is REMOVE") }
            }
        }
    }
}

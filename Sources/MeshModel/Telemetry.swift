/// Istio `Telemetry` (telemetry.istio.io v1 and v1alpha1): the access logs, tracing and metrics
/// of the selected workloads' proxies, naming providers of the mesh configuration.
///
/// Scope as in istiod (`Telemetries.applicableTelemetries`): the root namespace's Telemetry
/// without a selector applies mesh-wide, a namespace's without a selector to that namespace,
/// and those with a `selector` to the workloads of their namespace whose labels carry it; later
/// levels override earlier ones (docs/telemetry.md). Envoy sidecars and gateways honour access
/// logging and tracing; `metrics` cannot be honoured through xDS on stock Envoy (no `istio.stats`
/// filter), and proxyless gRPC clients take none of it from xDS: both warned per field.
public struct Telemetry: Sendable, Hashable {
    /// `selector.matchLabels`; nil without a selector.
    public var selector: [String: String]?
    /// Whether `targetRef` or `targetRefs` is set: such a Telemetry names Gateway API gateways,
    /// Services or ServiceEntries (waypoints), which meshd does not serve yet, so it applies to
    /// no proxy (and is never namespace-wide).
    public var hasTargetRef = false
    /// `tracing`, in document order.
    public var tracing: [Tracing]
    /// `accessLogging`, in document order.
    public var accessLogging: [AccessLogging]
    /// `metrics`, in document order (validated; not translated: see the type's summary).
    public var metrics: [Metrics]

    /// Creates a Telemetry.
    public init(
        selector: [String: String]? = nil, tracing: [Tracing] = [], accessLogging: [AccessLogging] = [], metrics: [Metrics] = []
    ) {
        self.selector = selector
        self.tracing = tracing
        self.accessLogging = accessLogging
        self.metrics = metrics
    }

    /// `WorkloadMode`: the direction of traffic a rule applies to, relative to the workload.
    public enum WorkloadMode: String, Sendable, Hashable, CaseIterable {
        /// Both directions (the default).
        case clientAndServer = "CLIENT_AND_SERVER"
        /// Outbound traffic: a sidecar's outbound listeners, and every gateway listener.
        case client = "CLIENT"
        /// Inbound traffic: a sidecar's `virtualInbound`.
        case server = "SERVER"

        /// Whether a rule with this mode applies to traffic in `direction` (a client or server).
        public func covers(_ direction: WorkloadMode) -> Bool {
            self == .clientAndServer || self == direction
        }
    }

    /// One `tracing` entry: each field set overrides what a parent level said.
    public struct Tracing: Sendable, Hashable {
        /// `match.mode`; CLIENT_AND_SERVER when absent.
        public var mode: WorkloadMode = .clientAndServer
        /// `providers[].name`: the tracer (Istio uses the first).
        public var providers: [String] = []
        /// `randomSamplingPercentage` (0–100), nil when not set.
        public var randomSamplingPercentage: Double?
        /// `disableSpanReporting`, nil when not set.
        public var disableSpanReporting: Bool?
        /// `customTags` by tag name; nil when not set (a set map replaces the parent's whole).
        public var customTags: [String: CustomTag]?

        /// Creates an entry.
        public init(
            mode: WorkloadMode = .clientAndServer, providers: [String] = [], randomSamplingPercentage: Double? = nil,
            disableSpanReporting: Bool? = nil, customTags: [String: CustomTag]? = nil
        ) {
            self.mode = mode
            self.providers = providers
            self.randomSamplingPercentage = randomSamplingPercentage
            self.disableSpanReporting = disableSpanReporting
            self.customTags = customTags
        }
    }

    /// A span tag from a literal, the proxy's environment, a request header or an access-log
    /// format string.
    public enum CustomTag: Sendable, Hashable {
        /// `literal.value`.
        case literal(String)
        /// `environment.name` and `defaultValue`.
        case environment(name: String, defaultValue: String)
        /// `header.name` and `defaultValue`.
        case header(name: String, defaultValue: String)
        /// `formatter.value` (`%REQUESTED_SERVER_NAME%`).
        case formatter(String)
    }

    /// One `accessLogging` entry.
    public struct AccessLogging: Sendable, Hashable {
        /// `match.mode`; CLIENT_AND_SERVER when absent.
        public var mode: WorkloadMode = .clientAndServer
        /// `providers[].name`; empty means the mesh's default providers (or the parent's).
        public var providers: [String] = []
        /// `disabled`, nil when not set.
        public var disabled: Bool?
        /// `filter.expression`: a CEL expression; only requests for which it is true are logged.
        public var filter: String?

        /// Creates an entry.
        public init(mode: WorkloadMode = .clientAndServer, providers: [String] = [], disabled: Bool? = nil, filter: String? = nil) {
            self.mode = mode
            self.providers = providers
            self.disabled = disabled
            self.filter = filter
        }
    }

    /// One `metrics` entry, kept for validation and warnings.
    public struct Metrics: Sendable, Hashable {
        /// `providers[].name`.
        public var providers: [String] = []
        /// The number of `overrides`.
        public var overrideCount = 0

        /// Creates an entry.
        public init(providers: [String] = [], overrideCount: Int = 0) {
            self.providers = providers
            self.overrideCount = overrideCount
        }
    }
}

extension Telemetry {
    /// Istio's validation warnings (`ValidateTelemetry`): more than one tracing entry, or more
    /// than one provider in one, of which istiod (and meshd) use only the first; and a `filter`
    /// on an access logging entry that names no provider, which istiod (and meshd) apply to no
    /// logger (`mergeLogs` keys filters by the providers an entry names).
    public var advisories: [(field: String, message: String)] {
        var result: [(field: String, message: String)] = []
        if tracing.count > 1 {
            result.append(("spec.tracing", "multiple tracing entries are not supported: each overrides the one before it"))
        }
        for (index, entry) in tracing.enumerated() where entry.providers.count > 1 {
            result.append(
                ("spec.tracing[\(index)].providers", "multiple providers are not supported: only \"\(entry.providers[0])\" is used"))
        }
        for (index, entry) in accessLogging.enumerated() where entry.filter != nil && entry.providers.isEmpty {
            result.append(
                (
                    "spec.accessLogging[\(index)].filter",
                    "a filter applies only to the providers its entry names: this entry names none, so nothing is filtered"
                ))
        }
        return result
    }
}

import MeshModel

/// What one Envoy proxy's listeners in one direction log and trace: the applicable Telemetries
/// merged as istiod merges them (`mergeLogs` and `Telemetries.Tracing`), over the mesh config's
/// default providers.
///
/// - Access logging: the providers of the most specific level that names any (in this
///   direction) are in scope, else the default providers; each later entry that applies
///   enables (with its filter) or disables them. No Telemetry access logging and no default
///   provider: the mesh config's `accessLogFile`, if any (istiod's fallback).
/// - Tracing: fields set at a later level override earlier ones (`customTags` replaced whole);
///   the first provider named wins; no provider means no tracing. No Telemetry tracing and no
///   default tracing provider: no tracing.
public struct TelemetryPolicy: Sendable, Hashable {
    /// One access logger to install.
    public struct AccessLog: Sendable, Hashable {
        /// The extension provider's name (access logs are ordered by it, as istiod orders them).
        public var provider: String
        /// The CEL filter, if any.
        public var filter: String?
    }

    /// The tracer to install and how.
    public struct Tracing: Sendable, Hashable {
        /// The extension provider's name.
        public var provider: String
        /// `randomSamplingPercentage`, else istiod's default (1%, `PILOT_TRACE_SAMPLING`).
        public var samplingPercentage: Double
        /// `customTags`, sorted by tag name when built.
        public var customTags: [String: Telemetry.CustomTag]
    }

    /// The access loggers, by provider name; empty with `meshAccessLog` false means none.
    public var accessLogs: [AccessLog] = []
    /// Whether the mesh config's `accessLogFile` applies instead (no Telemetry says otherwise).
    public var meshAccessLog = false
    /// The tracer; nil means no tracing.
    public var tracing: Tracing?

    /// Istio's default sampling percentage when a Telemetry sets none.
    public static let defaultSamplingPercentage = 1.0

    /// Whether nothing is installed.
    public var isEmpty: Bool { accessLogs.isEmpty && !meshAccessLog && tracing == nil }

    /// The policy for traffic in `direction` (`.client` or `.server`) of a proxy to which
    /// `telemetries` apply, least specific first.
    public static func resolve(_ telemetries: [Telemetry], settings: MeshSettings, direction: Telemetry.WorkloadMode) -> TelemetryPolicy {
        var policy = TelemetryPolicy()
        let defaults = settings.telemetry.defaultProviders
        let levels = telemetries.map(\.accessLogging).filter { !$0.isEmpty }
        if levels.isEmpty, defaults.accessLogging.isEmpty {
            policy.meshAccessLog = !settings.telemetry.accessLogFile.isEmpty
        } else {
            policy.accessLogs = mergeLogs(levels, defaults: defaults.accessLogging, direction: direction)
        }
        policy.tracing = mergeTracing(telemetries.flatMap(\.tracing), defaults: defaults.tracing, direction: direction)
        return policy
    }

    /// istiod's `mergeLogs`, keeping the enabled providers only.
    private static func mergeLogs(_ levels: [[Telemetry.AccessLogging]], defaults: [String], direction: Telemetry.WorkloadMode) -> [AccessLog] {
        guard !levels.isEmpty else { return defaults.sorted().map { AccessLog(provider: $0, filter: nil) } }
        var inScope = defaults
        var filters: [String: String?] = [:]
        for level in levels {
            var named: [String] = []
            for entry in level where entry.mode.covers(direction) {
                named += entry.providers
                for provider in entry.providers { filters[provider] = entry.filter }
            }
            if !named.isEmpty { inScope = named }
        }
        let scope = Set(inScope)
        var enabled: [String: String?] = [:]
        var parent = defaults
        for level in levels {
            for entry in level {
                let names = entry.providers.isEmpty ? parent : entry.providers
                parent = names
                for provider in names where scope.contains(provider) && entry.mode.covers(direction) {
                    if entry.disabled == true {
                        enabled[provider] = nil
                    } else {
                        enabled[provider] = .some(filters[provider] ?? nil)
                    }
                }
            }
        }
        return enabled.keys.sorted().map { AccessLog(provider: $0, filter: enabled[$0] ?? nil) }
    }

    /// istiod's `Telemetries.Tracing`, for one direction.
    private static func mergeTracing(_ entries: [Telemetry.Tracing], defaults: [String], direction: Telemetry.WorkloadMode) -> Tracing? {
        guard !entries.isEmpty || !defaults.isEmpty else { return nil }
        var provider = defaults.first
        var disabled = false
        var sampling: Double?
        var tags: [String: Telemetry.CustomTag] = [:]
        for entry in entries where entry.mode.covers(direction) {
            if let first = entry.providers.first { provider = first }
            if let value = entry.disableSpanReporting { disabled = value }
            if let value = entry.customTags { tags = value }
            if let value = entry.randomSamplingPercentage { sampling = value }
        }
        guard let provider, !disabled else { return nil }
        return Tracing(provider: provider, samplingPercentage: sampling ?? defaultSamplingPercentage, customTags: tags)
    }
}

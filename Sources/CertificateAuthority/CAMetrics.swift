import Foundation
import Prometheus

/// The CA's Prometheus metrics, with istiod's (citadel) names so dashboards and alerts carry over.
///
/// All members are thread-safe (Prometheus counters and gauges are).
public struct CAMetrics: Sendable {
    /// `citadel_server_csr_count`: CSRs received, whatever their outcome.
    let csrCount: Counter
    /// `citadel_server_authentication_failure_count`: CSRs refused because the caller was not authenticated.
    let authenticationFailures: Counter
    /// `citadel_server_csr_parsing_err_count`: CSRs refused as malformed or with a bad signature.
    let csrParsingErrors: Counter
    /// `citadel_server_success_cert_issuance_count`: certificates issued.
    let successfulIssuances: Counter
    /// `citadel_server_root_cert_expiry_timestamp`: unix seconds at which the root expires.
    let rootExpiry: Gauge

    /// Registers the metrics in `registry`. Registering twice in one registry returns the same series.
    public init(registry: PrometheusCollectorRegistry) {
        csrCount = registry.makeCounter(
            descriptor: Self.descriptor(
                "citadel_server_csr_count",
                "The number of CSRs received by the CA server."))
        authenticationFailures = registry.makeCounter(
            descriptor: Self.descriptor(
                "citadel_server_authentication_failure_count",
                "The number of authentication failures."))
        csrParsingErrors = registry.makeCounter(
            descriptor: Self.descriptor(
                "citadel_server_csr_parsing_err_count",
                "The number of errors occurred when parsing the CSR."))
        successfulIssuances = registry.makeCounter(
            descriptor: Self.descriptor(
                "citadel_server_success_cert_issuance_count",
                "The number of certificates issuances that have succeeded."))
        rootExpiry = registry.makeGauge(
            descriptor: Self.descriptor(
                "citadel_server_root_cert_expiry_timestamp",
                "The unix timestamp, in seconds, when the root cert will expire."))
    }

    /// istiod's names already end in their unit (`_count`, `_timestamp`), so no unit suffix is added.
    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    /// Sets `citadel_server_root_cert_expiry_timestamp`; call at startup and whenever the root changes.
    public func setRootExpiry(_ date: Date) {
        rootExpiry.set(date.timeIntervalSince1970)
    }
}

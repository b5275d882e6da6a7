/// A registered workload's health, as the registry knows it (Istio's WorkloadEntry has none:
/// meshd keeps it in the annotation `meshd.io/health`, set by the REST registry).
public enum HealthStatus: String, Sendable, Hashable, CaseIterable {
    /// Clients may pick it.
    case healthy = "HEALTHY"
    /// Failing: clients never pick it.
    case unhealthy = "UNHEALTHY"
    /// Shutting down: in-flight requests finish, clients pick it for nothing new.
    case draining = "DRAINING"
}

extension HealthStatus {
    /// The annotation holding a registered workload's health: `HEALTHY`, `UNHEALTHY` or
    /// `DRAINING` (any case).
    public static let annotation = "meshd.io/health"
}

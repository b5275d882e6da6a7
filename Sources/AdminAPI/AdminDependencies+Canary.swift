import CanaryDelivery
import MeshModel
import ObservedTraffic
import Storage

extension AdminDependencies {
    /// The canary operations over these dependencies: writes through the admin API's write
    /// path (so each step is validated, recorded and pushed as an apply is), observed traffic
    /// from `traffic` (nil without `--prometheus-url`), decisions counted in `metrics`.
    public func canaryOperator() -> CanaryOperator {
        let writer = ConfigWriter(self)
        let publisher = self.publisher
        var observe: (@Sendable (String, String, Int) async throws(ObservedTrafficError) -> TrafficReport.ServiceTraffic?)?
        if let reader = traffic {
            observe = { @Sendable host, _, seconds throws(ObservedTrafficError) in
                let services = TrafficController.services(in: publisher.current, host: host)
                guard !services.isEmpty else { return nil }
                let report = try await reader.report(services: services, window: TrafficWindow(stepSeconds: seconds))
                return report.services.first { $0.host == host }
            }
        }
        let environment = CanaryEnvironment(
            store: store, commit: { write in try await writer.commitOwn(write) }, observe: observe,
            preview: { write, proxy in try await writer.commitOwn(write, dryRun: DryRunRequest(proxy: proxy)) },
            ready: { publisher.current != nil })
        return CanaryOperator(environment: environment, metrics: CanaryMetrics(registry: metrics))
    }
}

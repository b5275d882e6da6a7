import Discovery
import Hummingbird
import MeshModel
import ObservedTraffic
import Translator

/// `GET /api/v1/traffic`: the traffic each service's subsets actually take, read from the
/// Prometheus server meshd was given (`--prometheus-url`), beside the weights configured.
/// Parameters: `host` (a host, or a short name matching every host it begins; default every
/// service) and `window` (default 30s). docs/observed-traffic.md gives the shape and sources.
struct TrafficController: Sendable {
    let dependencies: AdminDependencies

    func register(on router: Router<AdminRequestContext>) {
        let publisher = dependencies.publisher
        let reader = dependencies.traffic
        router.get("/api/v1/traffic") { request, _ -> Response in
            let parameters = try request.query(allowing: ["host", "window"])
            var window = TrafficWindow.standard
            if let text = parameters.get("window") {
                do throws(ObservedTrafficError) {
                    window = try TrafficWindow(parsing: text)
                } catch {
                    throw AdminError(code: "malformed", status: .badRequest, message: error.description)
                }
            }
            guard let reader else {
                throw AdminError(
                    code: "unavailable", status: .serviceUnavailable,
                    message: "observed traffic needs --prometheus-url: meshd reads rates from a Prometheus server that "
                        + "scrapes the proxies and workloads, and stores none itself")
            }
            let host = parameters.get("host")
            let services = Self.services(in: publisher.current, host: host)
            if let host, services.isEmpty { throw AdminError.notFound("service \"\(host)\"") }
            do throws(ObservedTrafficError) {
                let report = try await reader.sharedReport(services: services, window: window, everyHost: host == nil)
                return JSONResponse.make(report.json)
            } catch {
                throw AdminError(code: "unavailable", status: .serviceUnavailable, message: error.description)
            }
        }
    }

    /// The services `host` names (all with nil), as their own namespace sees them: its
    /// DestinationRule's subsets, the application label of its endpoints and the weights of
    /// its VirtualService's default route.
    static func services(in push: PushContext?, host: String?) -> [TrafficService] {
        guard let push else { return [] }
        let chosen = push.registry.sortedServices.filter { service in
            guard let host else { return true }
            return service.host == host || (!host.contains(".") && service.host.hasPrefix(host + "."))
        }
        return chosen.map { service in
            let namespace = service.namespace
            let rule = push.destinationRule(for: service.host, serviceNamespace: namespace, from: namespace)
            let virtualService = push.virtualService(for: service.host, serviceNamespace: namespace, from: namespace)
            let labels = service.ports.flatMap { port in push.registry.endpoints[service.host]?[port.number] ?? [] }.map(\.labels)
            return TrafficService(
                host: service.host, namespace: namespace,
                subsets: (rule?.spec.subsets ?? []).map { TrafficService.Subset(name: $0.name, labels: $0.labels) },
                application: WorkloadIdentity.shared(in: labels),
                weights: virtualService.map { defaultWeights(of: MeshOverview.routes(of: $0), host: service.host) })
        }
    }

    /// The weight per subset (`""`: no subset) the default route gives `host`: the first rule
    /// without match conditions, which takes whatever no earlier rule matched; the first rule
    /// when every rule matches.
    static func defaultWeights(of routes: [MeshOverview.Route], host: String) -> [String: Int] {
        guard let route = routes.first(where: { !$0.matched }) ?? routes.first else { return [:] }
        var weights: [String: Int] = [:]
        for destination in route.destinations where destination.host == host {
            let (sum, overflow) = weights[destination.subset ?? "", default: 0].addingReportingOverflow(destination.weight)
            weights[destination.subset ?? ""] = overflow ? .max : sum
        }
        return weights
    }
}

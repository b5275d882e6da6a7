/// Answers observed traffic: asks Prometheus every query of `TrafficQuery.all` at once and
/// builds the `TrafficReport`.
public struct ObservedTrafficReader: Sendable {
    public let prometheus: any PrometheusQuerying

    public init(prometheus: any PrometheusQuerying) {
        self.prometheus = prometheus
    }

    /// The report of `services` over `window`; `everyHost` when they are every service of the mesh.
    /// - Throws: `.unavailable` when any query fails (a partial table would mislead: a source
    ///   without its error rate reads as healthy).
    public func report(services: [TrafficService], window: TrafficWindow, everyHost: Bool = false) async throws(ObservedTrafficError) -> TrafficReport
    {
        let queries = TrafficQuery.all(for: services, window: window, everyHost: everyHost)
        let prometheus = self.prometheus
        let outcomes = await withTaskGroup(of: (TrafficQuery, Result<[PrometheusSample], ObservedTrafficError>).self) { group in
            for query in queries {
                group.addTask {
                    do throws(ObservedTrafficError) {
                        return (query, .success(try await prometheus.query(query.text)))
                    } catch {
                        return (query, .failure(error))
                    }
                }
            }
            var outcomes: [(TrafficQuery, Result<[PrometheusSample], ObservedTrafficError>)] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        var answers: [TrafficQuery: [PrometheusSample]] = [:]
        for (query, outcome) in outcomes {
            switch outcome {
            case .success(let samples): answers[query] = samples
            case .failure(let error): throw error
            }
        }
        return TrafficReport.make(services: services, window: window, prometheus: prometheus.baseURL, answers: answers)
    }
}

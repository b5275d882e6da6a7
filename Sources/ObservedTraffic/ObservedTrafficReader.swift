/// Answers observed traffic: asks Prometheus every query of `TrafficQuery.all` at once and
/// builds the `TrafficReport`.
public struct ObservedTrafficReader: Sendable {
    public let prometheus: any PrometheusQuerying

    /// Answers younger than this are shared: every open dashboard asks every 5 s, and one
    /// answer for all of them keeps Prometheus' load that of one.
    public static let sharedFor: Duration = .seconds(4)
    private let recent = RecentAnswers()

    public init(prometheus: any PrometheusQuerying) {
        self.prometheus = prometheus
    }

    /// The report of `services` over `window`, shared with any caller that asked the same
    /// queries within `sharedFor` (or is asking them now).
    public func sharedReport(services: [TrafficService], window: TrafficWindow, everyHost: Bool = false) async throws(ObservedTrafficError)
        -> TrafficReport
    {
        let key = TrafficQuery.all(for: services, window: window, everyHost: everyHost).map(\.text).joined(separator: "\u{0}")
        let task = await recent.task(for: key, maxAge: Self.sharedFor) {
            Task { try await report(services: services, window: window, everyHost: everyHost) }
        }
        do {
            return try await task.value
        } catch let error as ObservedTrafficError {
            throw error
        } catch {
            throw .unavailable("observed traffic: \(error)")
        }
    }

    /// The report of `services` over `window`; `everyHost` when they are every service of the mesh.
    /// - Throws: `.unavailable` when any query fails (a partial table would mislead: a source
    ///   without its error rate reads as healthy).
    public func report(services: [TrafficService], window: TrafficWindow, everyHost: Bool = false) async throws(ObservedTrafficError) -> TrafficReport
    {
        let queries = TrafficQuery.all(for: services, window: window, everyHost: everyHost)
        let prometheus = self.prometheus
        // Each child returns a struct, not a `(TrafficQuery, Result<[PrometheusSample], _>)`
        // tuple: Swift 6.3.1 with -O corrupts such tuple results of task-group children (release
        // meshd crashed on its first answer; the debug build did not).
        let outcomes = await withTaskGroup(of: QueryOutcome.self) { group in
            for query in queries {
                group.addTask {
                    do throws(ObservedTrafficError) {
                        return QueryOutcome(query: query, samples: try await prometheus.query(query.text), error: nil)
                    } catch {
                        return QueryOutcome(query: query, samples: [], error: error)
                    }
                }
            }
            var outcomes: [QueryOutcome] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        var answers: [TrafficQuery: [PrometheusSample]] = [:]
        for outcome in outcomes {
            if let error = outcome.error { throw error }
            answers[outcome.query] = outcome.samples
        }
        return TrafficReport.make(services: services, window: window, prometheus: prometheus.baseURL, answers: answers)
    }
}

/// One query's answer, as a task-group child returns it.
private struct QueryOutcome: Sendable {
    var query: TrafficQuery
    var samples: [PrometheusSample]
    var error: ObservedTrafficError?
}

/// The answers being worked out or worked out lately, by their queries.
private actor RecentAnswers {
    private var entries: [String: (started: ContinuousClock.Instant, task: Task<TrafficReport, any Error>)] = [:]

    func task(
        for key: String, maxAge: Duration, start: () -> Task<TrafficReport, any Error>
    ) -> Task<TrafficReport, any Error> {
        let now = ContinuousClock.now
        entries = entries.filter { now - $0.value.started < maxAge }
        if let entry = entries[key] { return entry.task }
        let task = start()
        entries[key] = (now, task)
        return task
    }
}

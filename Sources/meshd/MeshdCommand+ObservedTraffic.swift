import ArgumentParser
import ObservedTraffic

extension MeshdCommand {
    /// The reader of observed traffic, nil without `--prometheus-url`.
    func observedTraffic() throws -> ObservedTrafficReader? {
        guard let prometheusURL else { return nil }
        do throws(ObservedTrafficError) {
            return ObservedTrafficReader(prometheus: try PrometheusClient(baseURL: prometheusURL))
        } catch {
            throw ValidationError(error.description)
        }
    }
}

import KubernetesStore
import MeshModel
import PushPipeline
import Translator

/// Resources' status on Kubernetes, as istiod writes it: after each published build, the
/// analysis `meshctl analyze` shows (istioctl's codes) and the validation errors of stored
/// objects meshd leaves out of pushes, per resource, as `status.validationMessages`.
enum StatusReporting {
    /// Writes statuses after each publish, at most once a second, until cancelled.
    static func run(store: KubernetesConfigStore, publisher: PushContextPublisher, index: SharedConfigIndex) async {
        let changes = publisher.changes()
        // The first pass now: a new leader brings statuses up to date at once.
        await report(store: store, publisher: publisher, index: index)
        for await _ in changes {
            try? await Task.sleep(for: .seconds(1))
            if Task.isCancelled { return }
            await report(store: store, publisher: publisher, index: index)
        }
    }

    static func report(store: KubernetesConfigStore, publisher: PushContextPublisher, index: SharedConfigIndex) async {
        guard let context = publisher.current else { return }
        await store.writeStatuses(messages(index: index.read(), context: context), routes: context.routeStatuses)
    }

    /// Each resource's messages: analysis findings, and a schema error for an object that does
    /// not validate (istioctl's IST0106).
    static func messages(index: ConfigIndex, context: PushContext) -> [ConfigKey: [ValidationMessage]] {
        var out: [ConfigKey: [ValidationMessage]] = [:]
        for message in ConfigAnalysis.analyze(AnalysisInput(resources: index.validInputs, context: context)) {
            out[message.resource, default: []].append(
                ValidationMessage(code: message.code.rawValue, name: message.code.name, level: message.level.rawValue.uppercased()))
        }
        for warning in context.invalid {
            let code = AnalysisCode.schemaValidationError
            out[warning.key, default: []].append(ValidationMessage(code: code.rawValue, name: code.name, level: "ERROR"))
        }
        return out.mapValues { Array(Set($0)).sorted { ($0.code, $0.name) < ($1.code, $1.name) } }
    }
}

import Hummingbird
import MeshModel
import PushPipeline
import Storage
import Translator
import XDSCore

/// `GET /api/v1/analyze` and `POST /api/v1/analyze`: cross-resource checks of the configuration
/// (`ConfigAnalysis`), istioctl analyze's codes. POST analyzes the store's configuration with
/// the body's documents applied on top; nothing is written.
struct AnalyzeController: Sendable {
    let dependencies: AdminDependencies

    func register(on router: Router<AdminRequestContext>) {
        let dependencies = self.dependencies
        router.get("/api/v1/analyze") { request, _ -> Response in
            _ = try request.query(allowing: ["namespace"])
            let index = try await Self.currentIndex(dependencies)
            return JSONResponse.make(Self.answer(index, request: request, dependencies: dependencies))
        }

        router.post("/api/v1/analyze") { request, _ -> Response in
            _ = try request.query(allowing: ["namespace"])
            var request = request
            let resources = try ConfigDocumentParser.parse(try await request.text())
            // Validated exactly as an apply validates, so a body apply would refuse is a 4xx here.
            var validated: [(resource: ConfigResource, config: TypedConfig)] = []
            for resource in resources {
                validated.append((resource, try ConfigValidator.validateForWrite(resource).config))
            }
            var index = try await Self.currentIndex(dependencies)
            index.stage(validated, revision: (index.revision ?? 0) + 1)
            return JSONResponse.make(Self.answer(index, request: request, dependencies: dependencies))
        }
    }

    /// The push loop's index caught up with the store, as the write path builds its prospective
    /// configuration: what is stored now, not what was last pushed.
    private static func currentIndex(_ dependencies: AdminDependencies) async throws -> ConfigIndex {
        var index = dependencies.configIndex.read()
        try await index.catchUp(with: dependencies.store)
        return index
    }

    private static func answer(_ index: ConfigIndex, request: Request, dependencies: AdminDependencies) -> JSONValue {
        let namespace = request.uri.queryParameters["namespace"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        // Connected proxies count as workloads: a proxyless client selected by a policy need not be registered.
        let connected = dependencies.statuses.all.compactMap(\.proxy).map {
            AnalysisWorkload(namespace: $0.namespace, name: $0.id, labels: $0.labels)
        }
        let input = AnalysisInput(
            resources: index.validInputs, context: index.context(reusing: dependencies.publisher.current),
            connected: connected)
        let messages = ConfigAnalysis.analyze(input, namespace: namespace).map { message -> JSONValue in
            .object([
                "code": .string(message.code.rawValue), "level": .string(message.level.rawValue),
                "resource": .string(message.resource.description), "field": .string(message.field),
                "message": .string(message.message),
            ])
        }
        return .object(["messages": .array(messages)])
    }
}

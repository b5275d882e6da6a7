import Hummingbird

/// Builds the admin API's router: config, history, registry, analysis, debug, health and metrics
/// endpoints, the dashboard (`/ui/`) with its overview and event stream, and the OpenAPI document
/// that describes them all (Sources/AdminAPI/Assets/openapi.json).
public enum AdminRouter {
    /// The router for `dependencies`; routes are documented in docs/admin-api.md.
    public static func make(_ dependencies: AdminDependencies) -> Router<AdminRequestContext> {
        let router = Router(context: AdminRequestContext.self)
        router.add(middleware: AdminErrorMiddleware(logger: dependencies.logger))
        router.add(middleware: AdminAuthMiddleware(policy: dependencies.accessPolicy))
        HealthController(dependencies: dependencies).register(on: router)
        ConfigController(dependencies: dependencies).register(on: router)
        RegistryController(dependencies: dependencies).register(on: router)
        AnalyzeController(dependencies: dependencies).register(on: router)
        HistoryController(dependencies: dependencies).register(on: router)
        SecretController(dependencies: dependencies).register(on: router)
        DebugController(dependencies: dependencies).register(on: router)
        MeshInputsController(dependencies: dependencies).register(on: router)
        RegistryDebugController(dependencies: dependencies).register(on: router)
        OverviewController(dependencies: dependencies).register(on: router)
        TrafficController(dependencies: dependencies).register(on: router)
        CanaryController(dependencies: dependencies).register(on: router)
        DashboardController().register(on: router)
        if let identity = dependencies.identity { IdentityController(identity: identity).register(on: router) }
        router.get("/api/v1/openapi.json") { request, _ -> Response in
            guard let document = EmbeddedAssets.asset("openapi.json") else {
                throw AdminError.internalError("openapi.json is not compiled in (scripts/embed-assets.sh)")
            }
            return EmbeddedAssets.response(document, request: request)
        }
        return router
    }
}

extension Request {
    /// The body as UTF-8 text, at most `AdminLimits.maxBodyBytes` long (413 beyond). Invalid
    /// UTF-8 is refused (400) rather than silently repaired into different text.
    mutating func text() async throws -> String {
        let buffer: ByteBuffer
        do {
            buffer = try await collectBody(upTo: AdminLimits.maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw AdminError.tooLarge
        } catch  where String(describing: type(of: error)).contains("TooManyBytes") {
            // NIO's collector reports an oversized streamed body with its own error type.
            throw AdminError.tooLarge
        }
        guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
            throw AdminError(code: "malformed", status: .badRequest, message: "the request body is not valid UTF-8")
        }
        return text
    }
}

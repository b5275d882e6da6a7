import Hummingbird
import MeshModel
import PushPipeline
import XDSCore

/// `/healthz` (liveness) and `/ready` (readiness), open to every caller.
///
/// Readiness never goes back to false once the first configuration is built: a store that
/// becomes unreachable, or stored config left out of pushes, is listed under `degradations`
/// while proxies keep being served the last good configuration. Restarting meshd (what a
/// failing liveness probe does) or taking it out of a Service (a failing readiness probe) would
/// only make that worse.
struct HealthController: Sendable {
    let dependencies: AdminDependencies

    func register(on router: Router<AdminRequestContext>) {
        let health = dependencies.health
        let publisher = dependencies.publisher

        router.get("/healthz") { _, _ -> Response in
            JSONResponse.make(.object(["status": "ok"]))
        }

        router.get("/ready") { _, _ -> Response in
            let current = publisher.current
            // A published PushContext is a built configuration too, for a push side that does
            // not report to `health` itself.
            let ready = health.hasBuiltConfiguration || current != nil
            let degradations = health.degradations
            var body: [String: JSONValue] = [
                "ready": .bool(ready),
                "status": .string(!ready ? "starting" : degradations.isEmpty ? "ready" : "degraded"),
                "degradations": .array(degradations.map { .object(["id": .string($0.id), "message": .string($0.message)]) }),
            ]
            if let current { body["revision"] = .number(Double(current.revision)) }
            return JSONResponse.make(.object(body), status: ready ? .ok : .serviceUnavailable)
        }
    }
}

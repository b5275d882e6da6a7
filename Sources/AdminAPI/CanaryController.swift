import CanaryDelivery
import Foundation
import Hummingbird
import MeshModel
import Storage

/// `/api/v1/canaries`: the canaries with their status, and the operations on one (abort,
/// promote, resume). Any replica answers: each operation is one store write that expects the
/// canary as read, and the replica driving the canaries takes it from there
/// (docs/canary-steps.md).
struct CanaryController: Sendable {
    let dependencies: AdminDependencies

    func register(on router: Router<AdminRequestContext>) {
        let store = dependencies.store
        let canaries = dependencies.canaryOperator()
        let creation = CreationTimes(store: store)
        let configIndex = dependencies.configIndex

        router.get("/api/v1/canaries") { request, _ -> Response in
            let parameters = try request.query(allowing: ["namespace"])
            let items = try await store.list(kind: .canary, namespace: parameters.get("namespace"))
            let created = await creation.times(of: Set(items.map(\.createdRevision)))
            let index = configIndex.read()
            return JSONResponse.make(
                .object(["items": .array(items.map { ConfigController.render($0, index: index, createdAt: created[$0.createdRevision]) })]))
        }

        router.get("/api/v1/canaries/:namespace/:name") { _, context -> Response in
            let key = try Self.key(context)
            guard let stored = try await store.get(key) else { throw AdminError.notFound("\(key)") }
            let created = await creation.times(of: [stored.createdRevision])
            return JSONResponse.make(ConfigController.render(stored, index: configIndex.read(), createdAt: created[stored.createdRevision]))
        }

        router.post("/api/v1/canaries/:namespace/:name/:operation") { request, context -> Response in
            let key = try Self.key(context)
            let dryRun = try ConfigController.dryRun(try request.query(allowing: ["dryRun", "proxy"])).map {
                CanaryOperator.DryRun(proxy: $0.proxy)
            }
            // The operation is in the path; a body, when sent, is an empty JSON object.
            var request = request
            let text = try await request.text()
            if !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                guard case .object(let members) = try JSONValue.parse(json: text) else {
                    throw AdminError(code: "invalid", status: .unprocessableContent, message: "expected an empty JSON object, {}")
                }
                if let extra = members.keys.sorted().first {
                    throw AdminError(
                        code: "invalid", status: .unprocessableContent, message: "unknown field; a canary operation takes none",
                        field: String(extra.prefix(64)))
                }
            }
            let operation = context.parameters.get("operation") ?? ""
            let outcome: CanaryOperator.Outcome
            do {
                switch operation {
                case "abort": outcome = try await canaries.abort(key, actor: context.actor, dryRun: dryRun)
                case "promote": outcome = try await canaries.promote(key, actor: context.actor, dryRun: dryRun)
                case "resume": outcome = try await canaries.resume(key, actor: context.actor, dryRun: dryRun)
                default:
                    throw AdminError(
                        code: "notFound", status: .notFound,
                        message: "no canary operation \"\(operation.prefix(64))\"; operations: abort, promote, resume")
                }
            } catch let error as CanaryError {
                switch error {
                case .notFound: throw AdminError.notFound(error.description)
                case .conflict: throw AdminError(code: "conflict", status: .conflict, message: error.description)
                }
            }
            guard let stored = try await store.get(key), case .object(var answer) = outcome.answer else {
                throw AdminError.notFound("\(key)")
            }
            var canary = stored.resource
            // A dry run shows the canary as the operation would leave it.
            if dryRun != nil { canary.status = outcome.status.json }
            answer["canary"] = canary.toJSONValue(resourceVersion: stored.revision)
            return JSONResponse.make(.object(answer))
        }
    }

    private static func key(_ context: AdminRequestContext) throws -> ConfigKey {
        let namespace = context.parameters.get("namespace") ?? ""
        let name = context.parameters.get("name") ?? ""
        guard NameRules.isDNS1123Label(namespace), NameRules.isDNS1123Subdomain(name) else {
            throw AdminError.notFound("Canary \(namespace.prefix(64))/\(name.prefix(253))")
        }
        return ConfigKey(kind: .canary, namespace: namespace, name: name)
    }
}

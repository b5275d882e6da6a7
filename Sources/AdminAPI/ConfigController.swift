import Foundation
import Hummingbird
import MeshModel
import PushPipeline
import Storage
import Translator
import XDSCore

/// `/api/v1/apply`, `/api/v1/delete` and `/api/v1/config/...`: kubectl-style config access.
struct ConfigController: Sendable {
    let dependencies: AdminDependencies

    func register(on router: Router<AdminRequestContext>) {
        let writer = ConfigWriter(dependencies)
        let store = dependencies.store
        let configIndex = dependencies.configIndex
        let creation = CreationTimes(store: store)

        router.post("/api/v1/apply") { request, context -> Response in
            var request = request
            let dryRun = try Self.dryRun(try request.query(allowing: ["dryRun", "proxy"]))
            let documents = try ConfigDocumentParser.parseDocuments(try await request.text())
            return JSONResponse.make(try await writer.apply(documents, actor: context.actor, dryRun: dryRun))
        }

        router.post("/api/v1/delete") { request, context -> Response in
            var request = request
            let resources = try ConfigDocumentParser.parse(try await request.text())
            return JSONResponse.make(try await writer.delete(resources.map(\.key), actor: context.actor))
        }

        router.get("/api/v1/config/:kind") { request, context -> Response in
            let kind = try Self.kind(context)
            let namespace = try request.query(allowing: ["namespace"])["namespace"].map(String.init)
            let items = try await store.list(kind: kind, namespace: namespace)
            let index = configIndex.read()
            let created = await creation.times(of: Set(items.map(\.createdRevision) + items.map(\.revision)))
            let push = dependencies.publisher.current
            return JSONResponse.make(
                .object([
                    "items": .array(
                        items.map {
                            Self.render($0, index: index, createdAt: created[$0.createdRevision], push: push, modifiedAt: created[$0.revision])
                        })
                ]))
        }

        router.get("/api/v1/config/:kind/:namespace/:name") { _, context -> Response in
            let key = try Self.key(context)
            guard let stored = try await store.get(key) else { throw AdminError.notFound("\(key)") }
            let created = await creation.times(of: [stored.createdRevision, stored.revision])
            return JSONResponse.make(
                Self.render(
                    stored, index: configIndex.read(), createdAt: created[stored.createdRevision], push: dependencies.publisher.current,
                    modifiedAt: created[stored.revision]))
        }

        router.delete("/api/v1/config/:kind/:namespace/:name") { _, context -> Response in
            JSONResponse.make(try await writer.deleteOne(try Self.key(context), actor: context.actor))
        }
    }

    /// `2026-12-07T19:30:00Z`: whole seconds in UTC, Kubernetes' form of a timestamp.
    static func timestamp(_ date: Date) -> String {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)).formatted(.iso8601)
    }

    /// A stored resource as the API shows it. One that fails today's validation (stored under
    /// older rules) carries `status.validationMessages`, Istio's place for them, and
    /// `status.pushed: false`: it is left out of every push until fixed, and `meshctl get`
    /// marks it.
    /// The verdict comes from the push loop's typed index (`index`), which has validated every
    /// stored record already, so a listing does not validate the store again.
    /// `createdAt` becomes `metadata.creationTimestamp` (RFC 3339, as Kubernetes writes it).
    /// A Gateway API route carries the `status` `push` computed for it (its conditions'
    /// `lastTransitionTime` is `modifiedAt`, when the route last changed).
    static func render(
        _ stored: StoredConfig, index: ConfigIndex, createdAt: Date? = nil, push: PushContext? = nil, modifiedAt: Date? = nil
    ) -> JSONValue {
        var json = stored.resource.toJSONValue(resourceVersion: stored.revision)
        if let status = push?.routeStatuses[stored.resource.key], push.map({ $0.revision >= stored.revision }) == true,
            case .object(var members) = json
        {
            members["status"] = status.toJSONValue(since: Self.timestamp(modifiedAt ?? createdAt ?? Date()))
            json = .object(members)
        }
        if let createdAt, case .object(var members) = json, case .object(var metadata)? = members["metadata"] {
            metadata["creationTimestamp"] = .string(Self.timestamp(createdAt))
            members["metadata"] = .object(metadata)
            json = .object(members)
        }
        if let error = index.validationError(of: stored) {
            guard case .object(var members) = json else { return json }
            members["status"] = .object([
                "pushed": .bool(false),
                "validationMessages": .array([
                    .object([
                        "level": .string("ERROR"), "field": .string(error.field ?? "spec"),
                        "message": .string(error.message),
                    ])
                ]),
            ])
            json = .object(members)
        }
        return json
    }

    /// `dryRun=true` (or Kubernetes' `dryRun=All`) asks for a dry run, `proxy=NODE_ID` for that
    /// proxy's xDS diff in it; `dryRun=false` or none is a real apply.
    static func dryRun(_ query: Parameters) throws -> DryRunRequest? {
        let proxy = query["proxy"].map(String.init)
        switch query["dryRun"].map(String.init) {
        case "true", "All":
            return DryRunRequest(proxy: proxy)
        case nil, "false":
            guard proxy == nil else {
                throw AdminError(
                    code: "invalid", status: .unprocessableContent, message: "proxy is only read by a dry run (add dryRun=true)",
                    field: "proxy")
            }
            return nil
        case let other?:
            throw AdminError(
                code: "invalid", status: .unprocessableContent,
                message: "dryRun must be true or false, not \"\(other.prefix(40))\"", field: "dryRun")
        }
    }

    static func kind(_ context: AdminRequestContext) throws -> ConfigKind {
        try kind(named: context.parameters.get("kind") ?? "")
    }

    /// The kind a path segment or query parameter names (kind, plural or short name); 400 `unknownKind` otherwise.
    static func kind(named name: String) throws -> ConfigKind {
        guard let kind = ConfigKind.named(name) else {
            throw AdminError(
                code: "unknownKind", status: .badRequest,
                message: "unknown kind \"\(name)\"; supported: \(ConfigKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return kind
    }

    static func key(_ context: AdminRequestContext) throws -> ConfigKey {
        ConfigKey(
            kind: try kind(context), namespace: context.parameters.get("namespace") ?? "default",
            name: context.parameters.get("name") ?? "")
    }
}

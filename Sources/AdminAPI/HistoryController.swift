import Foundation
import Hummingbird
import MeshCommon
import MeshModel
import Storage

/// `/api/v1/history`, `/api/v1/history/diff` and `/api/v1/rollback`: the config history every
/// write records, the difference between two revisions, and restoring a past revision.
struct HistoryController: Sendable {
    let dependencies: AdminDependencies

    /// Records answered by default, and at most.
    static let defaultLimit = 50
    static let maxLimit = 1000

    func register(on router: Router<AdminRequestContext>) {
        let writer = ConfigWriter(dependencies)
        let store = dependencies.store

        router.get("/api/v1/history") { request, _ -> Response in
            let parameters = try request.query(allowing: ["kind", "namespace", "name", "limit"])
            var query = HistoryQuery(
                namespace: parameters["namespace"].map(String.init), name: parameters["name"].map(String.init),
                limit: Self.defaultLimit)
            if let kind = parameters["kind"].map(String.init) { query.kind = try ConfigController.kind(named: kind) }
            if let limit = try Self.integer(parameters["limit"].map(String.init), name: "limit") {
                guard (1...Int64(Self.maxLimit)).contains(limit) else {
                    throw Self.badParameter("limit", "must be between 1 and \(Self.maxLimit)")
                }
                query.limit = Int(limit)
            }
            let page = try await store.history(query)
            return JSONResponse.make(
                .object([
                    "items": .array(page.items.map(Self.render)),
                    "oldestRevision": .number(Double(page.oldestRevision)),
                ]))
        }

        router.get("/api/v1/history/diff") { request, _ -> Response in
            let parameters = try request.query(allowing: ["from", "to"])
            guard let from = try Self.integer(parameters["from"].map(String.init), name: "from") else {
                throw Self.badParameter("from", "required: the revision to compare from")
            }
            let to = try Self.integer(parameters["to"].map(String.init), name: "to")
            let window = try await store.historyWindow(after: min(from, to ?? from))
            let target = to ?? window.snapshot.revision
            let old = try HistoryReplay.configuration(at: from, in: window)
            let new = try HistoryReplay.configuration(at: target, in: window)
            let changes = HistoryReplay.changes(from: old, to: new)
            return JSONResponse.make(
                .object([
                    "from": .number(Double(from)), "to": .number(Double(target)),
                    "changes": .array(changes.map { Self.render($0.key, action: $0.action) }),
                    "diff": .string(try ConfigDiff.render(changes.map(\.key), from: old, to: new)),
                ]))
        }

        router.post("/api/v1/rollback") { request, context -> Response in
            let dryRun = try ConfigController.dryRun(try request.query(allowing: ["dryRun", "proxy"]))
            var request = request
            let body = try JSONValue.parse(json: try await request.text())
            if case .object(let members) = body, let extra = members.keys.sorted().first(where: { $0 != "toRevision" }) {
                throw AdminError(
                    code: "invalid", status: .unprocessableContent,
                    message: "unknown field; a rollback takes only toRevision", field: String(extra.prefix(64)))
            }
            guard case .number? = body["toRevision"], let revision = body["toRevision"]?.intValue, revision >= 0 else {
                throw AdminError(
                    code: "invalid", status: .unprocessableContent,
                    message: "expected {\"toRevision\": N}, N a revision (a non-negative integer)", field: "toRevision")
            }
            return JSONResponse.make(try await writer.rollback(to: Int64(revision), actor: context.actor, dryRun: dryRun))
        }
    }

    /// One history record as the API shows it (no content: the diff endpoint shows that).
    static func render(_ record: HistoryRecord) -> JSONValue {
        var object: [String: JSONValue] = [
            "revision": .number(Double(record.revision)),
            "time": .string(record.time.rfc3339),
            "actor": .string(record.actor),
            "operation": .string(record.operation.rawValue),
            "changes": .array(record.changes.map { render($0.key, action: $0.action) }),
        ]
        if let rolledBackTo = record.rolledBackTo { object["rolledBackTo"] = .number(Double(rolledBackTo)) }
        if let reason = record.reason { object["reason"] = .string(reason) }
        return .object(object)
    }

    static func render(_ key: ConfigKey, action: ConfigAction) -> JSONValue {
        .object([
            "kind": .string(key.kind.rawValue), "namespace": .string(key.namespace), "name": .string(key.name),
            "action": .string(action.rawValue),
        ])
    }

    /// A query parameter holding a revision or a count: nil when absent, 400 when not a
    /// non-negative integer.
    static func integer(_ text: String?, name: String) throws -> Int64? {
        guard let text else { return nil }
        guard !text.isEmpty, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let value = Int64(text) else {
            throw badParameter(name, "expected a non-negative integer, got \"\(text)\"")
        }
        return value
    }

    static func badParameter(_ name: String, _ message: String) -> AdminError {
        AdminError(code: "malformed", status: .badRequest, message: message, field: name)
    }
}

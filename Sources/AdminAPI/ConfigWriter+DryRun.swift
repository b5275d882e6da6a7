import Foundation
import MeshModel
import PushPipeline
import Storage
import Translator
import XDSCore

/// What `POST /api/v1/apply?dryRun=true` was asked for besides the documents.
struct DryRunRequest: Sendable {
    /// The node id whose xDS diff the answer carries (`&proxy=`), if any.
    var proxy: String?
}

extension ConfigWriter {
    /// A dry run's answer, once the documents passed every check a real apply makes: the store's
    /// current revision, what the apply would do to each resource, the warnings, and which
    /// connected proxies would receive what (`impact`). Nothing is written, so nothing is pushed.
    ///
    /// `stored` is the typed index caught up with the store (the configuration as it is), and
    /// `prospective` the context the apply would make. The baseline is the published context when
    /// it is of the stored revision; else (a change still in the debouncer) the stored
    /// configuration's own context, so the impact is this apply's alone.
    func dryRunAnswer(
        _ write: ConfigWrite, request: DryRunRequest, stored: ConfigIndex,
        prospective: PushContext, warnings: [JSONValue], extra: [String: JSONValue]
    ) async throws -> JSONValue {
        let outcome = try await plan(write)
        // One entry per proxy: its newest stream (an old one may linger while it reconnects).
        var latest: [String: ProxyStatus] = [:]
        for status in statuses?.all ?? [] where status.proxy != nil {
            if let known = latest[status.proxyID], known.connectedAt >= status.connectedAt { continue }
            latest[status.proxyID] = status
        }
        if let id = request.proxy, latest[id] == nil {
            throw AdminError.notFound("proxy \(id) (no such proxy is connected to this meshd)")
        }
        let current =
            publisher.current.flatMap { $0.revision == stored.revision ? $0 : nil }
            ?? stored.context(reusing: publisher.current)
        let targets = latest.values.compactMap { status in
            status.proxy.map { ChangeImpact.Target(proxy: $0, subscriptions: status.subscriptions, snapshot: status.snapshot) }
        }
        let generators = self.generators
        // Seconds of generation for a big mesh: run off the cooperative pool, so the xDS streams'
        // tasks are not held up behind it (the CPU is shared either way).
        let impact = await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .utility).async {
                continuation.resume(returning: ChangeImpact.compute(targets, before: current, after: prospective, generators: generators))
            }
        }

        var extra = extra
        extra.merge([
            "dryRun": .bool(true),
            "warnings": .array(warnings),
            "impact": .array(impact.affected.map(Self.impactEntry)),
        ]) { _, dry in dry }
        if !impact.failures.isEmpty {
            extra["impactIncomplete"] = .array(
                impact.failures.map {
                    .object(["proxy": .string($0.proxyID), "reason": .string($0.message)])
                })
        }
        if let id = request.proxy {
            let diff = impact.affected.first { $0.proxy.id == id }.map(ProxyConfigDiff.render) ?? ""
            extra["proxyDiff"] = .object(["proxy": .string(id), "diff": .string(diff)])
        }
        return answer(outcome, extra: extra)
    }

    /// What `write` would do, planned against the store's current records by the same pure
    /// `ChangePlan` the stores use, at the current revision (nothing is written). A stale
    /// `metadata.resourceVersion` is refused here exactly as the store's write refuses it:
    /// 409 `conflict` naming the resource and the field.
    func plan(_ write: ConfigWrite) async throws -> ChangeOutcome {
        let revision = try await store.currentRevision()
        var existing: [ConfigKey: StoredConfig] = [:]
        for key in Set(write.keys) {
            if let record = try await store.get(key) { existing[key] = record }
        }
        let planned = try ChangePlan.plan(write, existing: existing, nextRevision: revision + 1)
        return ChangeOutcome(revision: revision, results: planned.results)
    }

    /// One affected proxy as the answer lists it.
    static func impactEntry(_ affected: ChangeImpact.Affected) -> JSONValue {
        .object([
            "proxy": .string(affected.proxy.id),
            "kind": .string(kindName(affected.proxy.kind)),
            "resources": .array(
                affected.changes.map {
                    .object(["type": .string($0.typeName), "name": .string($0.name), "change": .string($0.change.rawValue)])
                }),
        ])
    }

    /// `proxyless`, `sidecar` or `gateway`: the API contract's names for the kinds of proxy.
    static func kindName(_ kind: ProxyKind) -> String {
        kind.apiName
    }
}

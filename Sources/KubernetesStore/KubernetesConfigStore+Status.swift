import Foundation
import Kubernetes
import MeshModel

/// One message of a resource's status as istiod writes it (`status.validationMessages[]`, an
/// `istio.analysis.v1alpha1.AnalysisMessageBase`): the message type's code and name, the level
/// and, for Istio's own codes, the documentation page. Tools that read Istio's status read it.
public struct ValidationMessage: Sendable, Hashable {
    /// `IST0101`, or meshd's own `MSH0001`.
    public var code: String
    /// `ReferencedResourceNotFound`.
    public var name: String
    /// `ERROR`, `WARNING` or `INFO`.
    public var level: String

    public init(code: String, name: String, level: String) {
        self.code = code
        self.name = name
        self.level = level
    }

    var json: JSONValue {
        var object: [String: JSONValue] = [
            "type": .object(["code": .string(code), "name": .string(name)]), "level": .string(level),
        ]
        if code.hasPrefix("IST") {
            object["documentationUrl"] = .string("https://istio.io/latest/docs/reference/config/analysis/\(code.lowercased())/")
        }
        return .object(object)
    }
}

extension KubernetesConfigStore {
    /// Brings every served object's `status.validationMessages` to `desired` (absent: none),
    /// with `observedGeneration` the generation checked; objects whose status already says so
    /// are not written. Singleton work: the elected replica runs it after each build.
    /// - Returns: how many statuses were written.
    /// Gateway API routes get their `status.parents` instead (`routes`): meshd's entries
    /// replaced, other controllers' kept, a condition's `lastTransitionTime` kept while its
    /// status does not change.
    @discardableResult
    public func writeStatuses(_ desired: [ConfigKey: [ValidationMessage]], routes: [ConfigKey: RouteStatus] = [:]) async -> Int {
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)).formatted(.iso8601)
        let pending: [(ConfigKey, String)] = state.withLock { state in
            state.objects.compactMap { key, object -> (ConfigKey, String)? in
                // Kubernetes Secrets carry no Istio status; ReferenceGrants have no status.
                guard object.resource != nil, key.kind != .secret, key.kind != .referenceGrant else { return nil }
                if key.kind.isGatewayAPI {
                    return Self.routeStatusPatch(routes[key], object: object, now: now).map { (key, $0) }
                }
                let messages = (desired[key] ?? []).map(\.json)
                let current: [JSONValue] = if case .array(let list)? = object.status?["validationMessages"] { list } else { [] }
                guard current != messages else { return nil }
                var status: [String: JSONValue] = ["validationMessages": messages.isEmpty ? .null : .array(messages)]
                if let generation = object.generation { status["observedGeneration"] = .string(String(generation)) }
                return (key, JSONValue.object(["status": .object(status)]).canonicalJSON())
            }.sorted { $0.0 < $1.0 }
        }
        var written = 0
        for (key, patch) in pending {
            do {
                _ = try await api.request(
                    .PATCH, "\(key.kind.kubePath(key))/status", query: [("fieldManager", "meshd-status")], body: patch,
                    contentType: "application/merge-patch+json", what: "write the status of \(key)")
                written += 1
            } catch  where error.status == 404 {
                continue  // deleted meanwhile
            } catch {
                logger.warning(
                    "cannot write a resource's status; retrying after the next build", metadata: ["resource": "\(key)", "error": "\(error)"])
            }
        }
        return written
    }

    /// The merge patch that brings a route's `status.parents` to `status` (nil: meshd's entries
    /// removed), or nil when it already says so.
    static func routeStatusPatch(_ status: RouteStatus?, object: IstioObject, now: String) -> String? {
        let current = object.status?["parents"]?.arrayValue ?? []
        let ours = { (entry: JSONValue) in entry["controllerName"]?.stringValue == RouteStatus.controllerName }
        let previous = current.filter(ours)
        var parents = current.filter { !ours($0) }
        let wanted = status?.toJSONValue(since: now, generation: object.generation.map(Int64.init))["parents"]?.arrayValue ?? []
        for entry in wanted {
            guard case .object(var members) = entry, case .array(let conditions)? = members["conditions"] else { continue }
            let before = previous.first { $0["parentRef"] == entry["parentRef"] }?["conditions"]?.arrayValue ?? []
            members["conditions"] = .array(
                conditions.map { condition in
                    guard case .object(var fields) = condition,
                        let old = before.first(where: { $0["type"] == condition["type"] }), old["status"] == condition["status"],
                        let since = old["lastTransitionTime"]
                    else { return condition }
                    fields["lastTransitionTime"] = since
                    return .object(fields)
                })
            parents.append(.object(members))
        }
        guard parents != current else { return nil }
        return JSONValue.object(["status": .object(["parents": .array(parents)])]).canonicalJSON()
    }
}

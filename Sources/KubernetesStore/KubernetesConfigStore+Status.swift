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
    @discardableResult
    public func writeStatuses(_ desired: [ConfigKey: [ValidationMessage]]) async -> Int {
        let pending: [(ConfigKey, String)] = state.withLock { state in
            state.objects.compactMap { key, object -> (ConfigKey, String)? in
                // Kubernetes Secrets carry no Istio status.
                guard object.resource != nil, key.kind != .secret else { return nil }
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
}

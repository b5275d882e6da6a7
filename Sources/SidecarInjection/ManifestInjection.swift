import MeshModel

/// `kube-inject` over manifests: each Pod, and the pod template of each workload kind, injected
/// as the webhook would inject the pods those workloads create; every other document unchanged.
extension SidecarInjector {
    /// Where each workload kind keeps its pod template.
    static let templatePaths: [String: [String]] = [
        "Deployment": ["spec", "template"], "StatefulSet": ["spec", "template"], "DaemonSet": ["spec", "template"],
        "ReplicaSet": ["spec", "template"], "ReplicationController": ["spec", "template"], "Job": ["spec", "template"],
        "CronJob": ["spec", "jobTemplate", "spec", "template"],
        "DeploymentConfig": ["spec", "template"],
    ]

    /// One document's result: the document (injected or not) and notes for the user.
    public struct DocumentResult: Sendable {
        /// The document to print.
        public var document: JSONValue
        /// `KIND/NAME: ...` lines: why it was left alone, or what is not honoured.
        public var notes: [String]
    }

    /// Injects every pod and pod template in `documents`.
    /// - Throws: `InjectionError` naming the document whose annotations are malformed.
    public func inject(documents: [JSONValue]) throws(InjectionError) -> [DocumentResult] {
        var results: [DocumentResult] = []
        for document in documents {
            let kind = document["kind"]?.stringValue ?? ""
            let name = document["metadata"]?["name"]?.stringValue ?? "(unnamed)"
            let label = "\(kind.isEmpty ? "document" : kind)/\(name)"
            let namespace = document["metadata"]?["namespace"]?.stringValue
            if kind == "Pod" {
                results.append(try injectOne(document, at: [], namespace: namespace, workload: nil, label: label))
            } else if let path = Self.templatePaths[kind], value(document, at: path) != nil {
                results.append(try injectOne(document, at: path, namespace: namespace, workload: name, label: label))
            } else {
                results.append(DocumentResult(document: document, notes: []))
            }
        }
        return results
    }

    private func injectOne(_ document: JSONValue, at path: [String], namespace: String?, workload: String?, label: String) throws(InjectionError)
        -> DocumentResult
    {
        let pod = value(document, at: path) ?? .object([:])
        let outcome: Outcome
        do {
            outcome = try inject(pod: pod, namespace: namespace, workloadName: workload)
        } catch {
            throw InjectionError("\(label): \(error.message)")
        }
        switch outcome {
        case .skipped(let reason):
            return DocumentResult(document: document, notes: ["\(label): not injected: \(reason)"])
        case .injected(let injected, _, let warnings):
            return DocumentResult(document: replacing(document, at: path, with: injected), notes: warnings.map { "\(label): \($0)" })
        }
    }

    private func value(_ document: JSONValue, at path: [String]) -> JSONValue? {
        var current: JSONValue? = document
        for key in path { current = current?[key] }
        return current
    }

    private func replacing(_ document: JSONValue, at path: [String], with new: JSONValue) -> JSONValue {
        guard let key = path.first else { return new }
        guard case .object(var members) = document else { return document }
        members[key] = replacing(members[key] ?? .object([:]), at: Array(path.dropFirst()), with: new)
        return .object(members)
    }
}

import Kubernetes
import MeshModel

extension ConfigKind {
    /// The version meshd reads and writes Istio objects in. The CRDs serve every accepted version
    /// from one stored object (conversion `None`), so watching `v1` sees objects applied as
    /// `v1alpha3` or `v1beta1` too.
    static let kubeVersion = "v1"

    /// The Istio kinds the Kubernetes store serves: every kind applied as a document. Gateway
    /// credentials are Kubernetes Secrets there, not meshd's `Secret` resources.
    public static let kubeServed: [ConfigKind] = allCases.filter(\.isAppliedAsDocument)

    /// Every namespace's objects of the kind: `/apis/networking.istio.io/v1/virtualservices`.
    var kubeCollection: KubeCollection {
        KubeCollection(path: "/apis/\(group)/\(Self.kubeVersion)/\(plural)", name: "\(plural).\(group)")
    }

    /// One namespace's collection, where objects are created.
    func kubePath(namespace: String) -> String {
        "/apis/\(group)/\(Self.kubeVersion)/namespaces/\(namespace)/\(plural)"
    }

    /// One object's path.
    func kubePath(_ key: ConfigKey) -> String {
        "\(kubePath(namespace: key.namespace))/\(key.name)"
    }
}

/// An Istio object as the Kubernetes store holds it: what it parses to (nil when it does not
/// parse as an Istio document), its opaque `resourceVersion`, and who wrote it last.
struct IstioObject: Sendable, Hashable {
    /// The resource, or nil with `problem` saying why not.
    var resource: ConfigResource?
    /// Why the object is not a resource meshd can serve.
    var problem: String?
    /// Kubernetes' `metadata.resourceVersion`: compared for equality only.
    var resourceVersion: String
    /// Who wrote it last: the field manager (`kubectl-client-side-apply`, `meshd:admin`) whose
    /// `metadata.managedFields` entry this version changed, nil when the server keeps none.
    var manager: String?
    /// Each manager's entry (time and fields, canonical JSON), to tell which one a write changed.
    var managerEntries: [String: String] = [:]
    /// `status`, which meshd's elected replica writes validation messages into.
    var status: JSONValue?
    /// `metadata.generation`, echoed as the status' `observedGeneration`.
    var generation: Int?
    /// The rest of `metadata` (finalizers, owner references…), kept on a replace: a write
    /// through meshd changes the resource, not what others attached to the object.
    var otherMetadata: [String: JSONValue] = [:]
}

/// Turns Kubernetes objects of the Istio kinds into meshd's resources and back.
enum IstioObjectCodec {
    /// `object` of `kind` read from the API server. The envelope is checked as meshd checks a
    /// document (`ConfigDocumentParser`); `status`, `resourceVersion` and the rest of Kubernetes'
    /// metadata are not part of a resource.
    /// `previous` is the version the watch held before, whose managedFields tell this write's
    /// manager apart (entries carry whole seconds and sort by name within one).
    static func decode(_ object: KubeObject, kind: ConfigKind, previous: IstioObject? = nil) -> IstioObject {
        var body = object.body
        if case .object(var fields) = body, case .object(var metadata)? = fields["metadata"] {
            metadata.removeValue(forKey: "resourceVersion")
            fields["metadata"] = .object(metadata)
            fields["kind"] = fields["kind"] ?? .string(kind.rawValue)
            body = .object(fields)
        }
        let label = "\(kind.rawValue) \(object.key)"
        let entries = managerEntries(object.body)
        // A write that changed no entry is most likely the previous writer's again (the same
        // manager within the same second).
        let writer =
            manager(object.body, changedSince: previous?.managerEntries, entries: entries) ?? previous?.manager ?? manager(object.body)
        var decoded = IstioObject(resourceVersion: object.resourceVersion, manager: writer, managerEntries: entries)
        decoded.status = object.body["status"]
        decoded.generation = object.body["metadata"]?["generation"]?.intValue
        if case .object(var metadata)? = object.body["metadata"] {
            // What a replace must not send: the resource's own fields (meshd's), and what the
            // server manages (managedFields would replace every manager's entries).
            for field in ["name", "namespace", "labels", "annotations", "resourceVersion", "managedFields"] { metadata.removeValue(forKey: field) }
            decoded.otherMetadata = metadata
        }
        do {
            decoded.resource = try ConfigDocumentParser.document(from: body, label: label).resource
        } catch {
            decoded.problem = "\(error)"
        }
        return decoded
    }

    /// Each manager's entries, status writes left out (they are not changes of the resource).
    static func managerEntries(_ body: JSONValue) -> [String: String] {
        guard case .array(let entries)? = body["metadata"]?["managedFields"] else { return [:] }
        var out: [String: String] = [:]
        for entry in entries {
            guard let manager = entry["manager"]?.stringValue, entry["subresource"]?.stringValue != "status" else { continue }
            out[manager, default: ""] += entry.canonicalJSON()
        }
        return out
    }

    /// The JSON body that creates or replaces `resource` (in `ConfigKind.kubeVersion`), with
    /// `resourceVersion` as the optimistic-concurrency precondition of a replace and the
    /// replaced object's other metadata kept.
    static func body(_ resource: ConfigResource, resourceVersion: String?, keeping other: [String: JSONValue] = [:]) -> String {
        var metadata = other
        metadata["name"] = .string(resource.key.name)
        metadata["namespace"] = .string(resource.key.namespace)
        if !resource.labels.isEmpty { metadata["labels"] = .object(resource.labels.mapValues(JSONValue.string)) }
        if !resource.annotations.isEmpty { metadata["annotations"] = .object(resource.annotations.mapValues(JSONValue.string)) }
        if let resourceVersion { metadata["resourceVersion"] = .string(resourceVersion) }
        let object: JSONValue = .object([
            "apiVersion": .string("\(resource.key.kind.group)/\(ConfigKind.kubeVersion)"),
            "kind": .string(resource.key.kind.rawValue),
            "metadata": .object(metadata),
            "spec": resource.spec,
        ])
        return object.canonicalJSON()
    }

    /// The writer of this version: among the managers whose entry differs from `previous`
    /// (all of them without it), the one with the newest time (RFC 3339 in UTC sorts as text);
    /// status writes are skipped.
    static func manager(_ body: JSONValue, changedSince previous: [String: String]? = nil, entries: [String: String]? = nil) -> String? {
        guard case .array(let list)? = body["metadata"]?["managedFields"] else { return nil }
        let entries = entries ?? managerEntries(body)
        var newest: (time: String, manager: String)?
        for entry in list {
            guard let manager = entry["manager"]?.stringValue, entry["subresource"]?.stringValue != "status" else { continue }
            if let previous, previous[manager] == entries[manager] { continue }
            let time = entry["time"]?.stringValue ?? ""
            if newest == nil || time >= newest!.time { newest = (time, manager) }
        }
        return newest?.manager
    }
}

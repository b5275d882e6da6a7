import Kubernetes
import MeshModel

extension ConfigKind {
    /// The version meshd reads and writes Istio objects in. The CRDs serve every accepted version
    /// from one stored object (conversion `None`), so watching `v1` sees objects applied as
    /// `v1alpha3` or `v1beta1` too.
    static let kubeVersion = "v1"

    /// The kinds the Kubernetes store serves: every kind applied as a document. Gateway
    /// credentials are Kubernetes Secrets there, not meshd's `Secret` resources; meshd's own
    /// `Canary` has no CRD yet, so canaries run on the SQLite and etcd stores only.
    public static let kubeServed: [ConfigKind] = allCases.filter { $0.isAppliedAsDocument && $0 != .canary }

    /// Whether the kind's CRDs may be missing from a cluster meshd runs in: the Gateway API's
    /// are the cluster's, installed apart from the mesh (`kubectl apply -f` the release's
    /// standard-install.yaml). Without them the kind is served empty until they appear.
    var isOptionalOnKubernetes: Bool { isGatewayAPI }

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
    /// Each manager's entry time.
    var managerTimes: [String: String] = [:]
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
        var decoded = IstioObject(
            resourceVersion: object.resourceVersion, manager: manager(object.body, previous: previous), managerEntries: managerEntries(object.body))
        decoded.managerTimes = managerEntries(object.body, field: "time")
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

    /// Each manager's entries (or one `field` of them), status writes left out (they are not
    /// changes of the resource).
    static func managerEntries(_ body: JSONValue, field: String? = nil) -> [String: String] {
        guard case .array(let entries)? = body["metadata"]?["managedFields"] else { return [:] }
        var out: [String: String] = [:]
        for entry in entries {
            guard let manager = entry["manager"]?.stringValue, entry["subresource"]?.stringValue != "status" else { continue }
            out[manager, default: ""] += field.map { entry[$0]?.stringValue ?? "" } ?? entry.canonicalJSON()
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

    /// The writer of this version, told apart from `previous` (entries carry whole seconds and
    /// sort by name within one, so the newest entry is not enough): a manager new to the object,
    /// else one whose time moved (a manager that only lost fields to the writer keeps its time),
    /// else the previous writer when its entry changed, else the newest changed entry. Status
    /// writes are skipped.
    static func manager(_ body: JSONValue, previous: IstioObject? = nil) -> String? {
        guard case .array(let list)? = body["metadata"]?["managedFields"] else { return nil }
        let entries: [(manager: String, time: String, json: String)] = list.compactMap { entry in
            guard let manager = entry["manager"]?.stringValue, entry["subresource"]?.stringValue != "status" else { return nil }
            return (manager, entry["time"]?.stringValue ?? "", entry.canonicalJSON())
        }
        func newest(_ candidates: [(manager: String, time: String, json: String)]) -> String? {
            candidates.max { $0.time < $1.time }?.manager
        }
        guard let previous else { return newest(entries) }
        let before = previous.managerEntries
        if let writer = newest(entries.filter { before[$0.manager] == nil }) { return writer }
        if let writer = newest(entries.filter { previous.managerTimes[$0.manager] != $0.time }) { return writer }
        let changed = entries.filter { before[$0.manager] != $0.json }
        if let writer = previous.manager, changed.contains(where: { $0.manager == writer }) { return writer }
        return newest(changed) ?? previous.manager ?? newest(entries)
    }
}

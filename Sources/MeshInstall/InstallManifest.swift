import MeshModel
import SidecarInjection

/// Every object of a meshd install, from its values (docs/install.md): the namespace, the Istio
/// CRDs, meshd's RBAC, Deployment, PodDisruptionBudget and Service, both webhook configurations,
/// the injector's values, and the gateways the profile enables. Pure; `meshctl manifest
/// generate` prints it and `meshctl install` applies it, in this order (what a later object
/// names exists first).
public struct InstallManifest: Sendable {
    /// The release an install deploys by default (meshd's, meshctl's and the images' tag).
    public static let version = InjectionValues.defaultTag
    /// The field manager `meshctl install` applies with, and the label on what it owns.
    public static let fieldManager = "meshctl-install"
    /// Set on every object the install generates, so `uninstall` and `verify-install` find them.
    public static let managedLabel = ["app.kubernetes.io/managed-by": "meshctl", "app.kubernetes.io/part-of": "meshd"]

    public let values: InstallValues

    /// The manifest for `values`.
    public init(values: InstallValues) {
        self.values = values
    }

    var namespace: String { values.string("namespace") }
    var hub: String { values.string("hub") }
    var tag: String { values.string("tag") }
    var pullPolicy: String { values.string("imagePullPolicy") }

    /// The injector's values, derived from the install's (the ConfigMap meshd reads).
    public var injectionValues: InjectionValues {
        var injection = InjectionValues(systemNamespace: namespace)
        injection.hub = hub
        injection.tag = tag
        injection.revision = values.string("revision")
        injection.imagePullPolicy = pullPolicy
        injection.clusterDomain = values.string("clusterDomain")
        injection.resources.requestsCPU = values.string("proxy.resources.requests.cpu")
        injection.resources.requestsMemory = values.string("proxy.resources.requests.memory")
        injection.resources.limitsCPU = values.string("proxy.resources.limits.cpu")
        injection.resources.limitsMemory = values.string("proxy.resources.limits.memory")
        return injection
    }

    /// Every object, in apply order.
    /// - Throws: `InstallError` if the embedded CRDs cannot be read (a build defect).
    public func objects() throws(InstallError) -> [JSONValue] {
        var objects: [JSONValue] = [labelled(["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace)]])]
        objects += try Self.crds().map(labelled)
        objects += rbac().map(labelled)
        objects.append(labelled(injectorValuesConfigMap))
        objects += controlPlane().map(labelled)
        objects += webhooks().map(labelled)
        if values.bool("gateways.ingress.enabled") { objects += gateway(.ingress).map(labelled) }
        if values.bool("gateways.egress.enabled") { objects += gateway(.egress).map(labelled) }
        return objects
    }

    /// The CRDs, parsed from the embedded YAML.
    static func crds() throws(InstallError) -> [JSONValue] {
        do {
            return try ConfigDocumentParser.plainDocuments(istioCRDsYAML)
        } catch {
            throw InstallError("the embedded CRDs do not parse: \(error.message)")
        }
    }

    /// The ConfigMap whose `values.yaml` meshd's `--injection-values` reads.
    var injectorValuesConfigMap: JSONValue {
        let text = (try? injectionValues.document.yamlDocument()) ?? injectionValues.document.canonicalJSON()
        return [
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": ["name": "meshd-sidecar-injector", "namespace": .string(namespace)],
            "data": ["values.yaml": .string(text)],
        ]
    }

    /// `object` with the install's labels added to its metadata.
    private func labelled(_ object: JSONValue) -> JSONValue {
        guard case .object(var fields) = object, case .object(var metadata)? = fields["metadata"] else { return object }
        var labels = metadata["labels"]?.objectValue ?? [:]
        for (key, value) in Self.managedLabel where labels[key] == nil { labels[key] = .string(value) }
        metadata["labels"] = .object(labels)
        fields["metadata"] = .object(metadata)
        return .object(fields)
    }

    func meta(_ name: String, namespaced: Bool = true, labels: [String: String] = [:]) -> JSONValue {
        var metadata: [String: JSONValue] = ["name": .string(name)]
        if namespaced { metadata["namespace"] = .string(namespace) }
        if !labels.isEmpty { metadata["labels"] = .object(labels.mapValues(JSONValue.string)) }
        return .object(metadata)
    }
}

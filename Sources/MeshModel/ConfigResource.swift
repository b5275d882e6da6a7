/// One Istio config resource as a user gave it: identity, metadata and the untyped spec.
///
/// The spec stays untyped here so fields meshd does not implement yet survive a round trip
/// through the store unchanged; `ConfigValidator` produces the typed form.
public struct ConfigResource: Sendable, Hashable {
    /// Kind, namespace and name.
    public var key: ConfigKey
    /// The `apiVersion` as given, e.g. `networking.istio.io/v1`; echoed back on reads.
    public var apiVersion: String
    /// `metadata.labels`.
    public var labels: [String: String]
    /// `metadata.annotations`.
    public var annotations: [String: String]
    /// The `spec` object, untyped (an empty object when the document had none).
    public var spec: JSONValue
    /// The `status` object of kinds whose status meshd writes (`ConfigKind.hasStatus`: a
    /// canary's progress); nil for every other kind. Never read from a user's document.
    public var status: JSONValue?

    /// Creates a resource; `apiVersion` defaults to the kind's newest version.
    public init(
        key: ConfigKey,
        apiVersion: String? = nil,
        labels: [String: String] = [:],
        annotations: [String: String] = [:],
        spec: JSONValue = .object([:]),
        status: JSONValue? = nil
    ) {
        self.status = status
        self.key = key
        self.apiVersion = apiVersion ?? key.kind.supportedAPIVersions[0]
        self.labels = labels
        self.annotations = annotations
        self.spec = spec
    }

    /// The Kubernetes-shaped object: `{apiVersion, kind, metadata{name, namespace, labels?,
    /// annotations?, resourceVersion?}, spec, status?}`.
    ///
    /// Empty label and annotation maps are left out. `resourceVersion` is written as a string,
    /// as Kubernetes does, so clients that round-trip it as an opaque token keep working.
    public func toJSONValue(resourceVersion: Int64?) -> JSONValue {
        var metadata: [String: JSONValue] = [
            "name": .string(key.name),
            "namespace": .string(key.namespace),
        ]
        if !labels.isEmpty { metadata["labels"] = .object(labels.mapValues(JSONValue.string)) }
        if !annotations.isEmpty { metadata["annotations"] = .object(annotations.mapValues(JSONValue.string)) }
        if let resourceVersion { metadata["resourceVersion"] = .string(String(resourceVersion)) }
        var object: [String: JSONValue] = [
            "apiVersion": .string(apiVersion),
            "kind": .string(key.kind.rawValue),
            "metadata": .object(metadata),
            "spec": spec,
        ]
        if let status { object["status"] = status }
        return .object(object)
    }
}

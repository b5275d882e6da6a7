import MeshModel

/// A resource's stored content without its key: `{apiVersion, labels, annotations, spec,
/// status?}`, the value of an etcd config key and of a history record's before/after. Revisions
/// are never in it.
public enum ResourceEnvelope {
    /// The envelope of `resource`.
    public static func encode(_ resource: ConfigResource) -> JSONValue {
        var object: [String: JSONValue] = [
            "apiVersion": .string(resource.apiVersion),
            "labels": .object(resource.labels.mapValues { .string($0) }),
            "annotations": .object(resource.annotations.mapValues { .string($0) }),
            "spec": resource.spec,
        ]
        if let status = resource.status { object["status"] = status }
        return .object(object)
    }

    /// The resource `key` names with `envelope`'s content; nil when it is not an envelope (no
    /// apiVersion, `null` for an absent resource).
    public static func decode(_ key: ConfigKey, _ envelope: JSONValue) -> ConfigResource? {
        guard case .object(let object) = envelope, case .string(let apiVersion)? = object["apiVersion"] else { return nil }
        return ConfigResource(
            key: key, apiVersion: apiVersion, labels: strings(object["labels"]),
            annotations: strings(object["annotations"]), spec: object["spec"] ?? .object([:]),
            status: key.kind.hasStatus ? object["status"] : nil)
    }

    private static func strings(_ value: JSONValue?) -> [String: String] {
        guard case .object(let object)? = value else { return [:] }
        return object.compactMapValues { if case .string(let s) = $0 { s } else { nil } }
    }
}

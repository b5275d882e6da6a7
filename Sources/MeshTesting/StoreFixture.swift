import MeshModel

/// Small resources for store tests: the ConfigStore contract and the stores' own tests.
public enum StoreFixture {
    /// A VirtualService `default/NAME` whose spec carries `weight`, so contents differ by weight.
    public static func resource(_ name: String, weight: Int) -> ConfigResource {
        ConfigResource(
            key: ConfigKey(kind: .virtualService, namespace: "default", name: name),
            apiVersion: "networking.istio.io/v1", labels: ["app": name],
            spec: .object(["hosts": .array([.string(name)]), "weight": .number(Double(weight))]))
    }

    /// The key of `resource(name, weight:)`.
    public static func key(_ name: String) -> ConfigKey { resource(name, weight: 0).key }
}

/// A named group of a service's endpoints, chosen by labels (e.g. `version: v2`).
public struct Subset: Sendable, Hashable {
    /// The subset's name (a DNS-1123 label), referred to by `Destination.subset`.
    public var name: String
    /// The labels an endpoint must carry, all of them, to belong to the subset.
    public var labels: [String: String]
    /// The subset's own `trafficPolicy`, merged over the rule's (`TrafficPolicy.merged`).
    public var trafficPolicy: TrafficPolicy?

    /// Creates a subset.
    public init(name: String, labels: [String: String] = [:], trafficPolicy: TrafficPolicy? = nil) {
        self.name = name
        self.labels = labels
        self.trafficPolicy = trafficPolicy
    }
}

extension Subset {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        name = try r["name"].requiredString()
        // The name becomes part of cluster names (`outbound|9080|v1|reviews...`), hence DNS-label syntax.
        guard NameRules.isDNS1123Label(name) else { throw r["name"].error(NameRules.labelRule) }
        labels = try r["labels"].stringMap()
        trafficPolicy = try r["trafficPolicy"].isAbsent ? nil : TrafficPolicy(reading: r["trafficPolicy"])
    }
}

/// Istio `DestinationRule` (the subset meshd implements): subsets of a host.
public struct DestinationRule: Sendable, Hashable {
    /// The host the rule applies to, as written.
    public var host: String
    /// Named subsets; names are unique once validated.
    public var subsets: [Subset]
    /// Namespaces the rule is visible to (see `ExportTo`); empty means everywhere.
    public var exportTo: [String]
    /// `trafficPolicy`: applies to every subset, merged under each subset's own policy.
    public var trafficPolicy: TrafficPolicy?

    /// Creates a DestinationRule.
    public init(host: String, subsets: [Subset] = [], exportTo: [String] = [], trafficPolicy: TrafficPolicy? = nil) {
        self.host = host
        self.subsets = subsets
        self.exportTo = exportTo
        self.trafficPolicy = trafficPolicy
    }
}

extension DestinationRule {
    init(reading spec: FieldReader, namespace: String) throws(MeshModelError) {
        host = try spec["host"].requiredString()
        guard NameRules.isHost(host) else { throw spec["host"].error("invalid host \"\(host)\"") }
        var subsets: [Subset] = []
        var seen: Set<String> = []
        for reader in try spec["subsets"].list() {
            let subset = try Subset(reading: reader)
            guard seen.insert(subset.name).inserted else {
                throw reader["name"].error("duplicate subset \"\(subset.name)\"")
            }
            subsets.append(subset)
        }
        self.subsets = subsets
        exportTo = try spec["exportTo"].exportTo(namespace: namespace, allowNone: false)
        trafficPolicy = try spec["trafficPolicy"].isAbsent ? nil : TrafficPolicy(reading: spec["trafficPolicy"])
    }

    /// The policy blocks for traffic to `port` of `subset` (nil: the whole host), merged as
    /// Istio merges them (`TrafficPolicy.merged`). A subset name the rule lacks gets the
    /// rule-level blocks.
    public func policy(subset: String?, port: UInt32) -> PolicySettings {
        let subsetPolicy = subset.flatMap { name in subsets.first { $0.name == name } }?.trafficPolicy
        return TrafficPolicy.merged(top: trafficPolicy, subset: subsetPolicy, port: port)
    }
}

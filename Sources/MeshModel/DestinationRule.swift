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

extension DestinationRule {
    /// Every policy block the rule holds (rule-level, port-level, each subset's and its
    /// port-level ones), unmerged: what a question like "does any block set X" needs.
    public var allPolicySettings: [PolicySettings] {
        ([trafficPolicy] + subsets.map(\.trafficPolicy)).compactMap { $0 }.flatMap { policy in
            [policy.settings] + policy.portLevelSettings.map(\.settings)
        }
    }

    /// Istio's validation warnings that do not refuse the rule, as (field path, message): a
    /// locality failover without outlier detection in the same block never fails over.
    public var advisories: [(field: String, message: String)] {
        var found: [(field: String, message: String)] = []
        func check(_ settings: PolicySettings, at path: String) {
            guard let locality = settings.loadBalancer?.localityLbSetting,
                !locality.failover.isEmpty || !locality.failoverPriority.isEmpty,
                settings.outlierDetection == nil
            else { return }
            found.append(("\(path).loadBalancer.localityLbSetting", "outlier detection policy must be provided for failover"))
        }
        func check(_ policy: TrafficPolicy?, at path: String) {
            guard let policy else { return }
            check(policy.settings, at: path)
            for (index, entry) in policy.portLevelSettings.enumerated() {
                check(entry.settings, at: "\(path).portLevelSettings[\(index)]")
            }
        }
        check(trafficPolicy, at: "spec.trafficPolicy")
        for (index, subset) in subsets.enumerated() { check(subset.trafficPolicy, at: "spec.subsets[\(index)].trafficPolicy") }
        return found
    }
}

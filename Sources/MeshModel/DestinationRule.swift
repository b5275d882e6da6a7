/// Istio `DestinationRule` (the subset meshd implements): subsets of a host.
public struct DestinationRule: Sendable, Hashable {
    /// The host the rule applies to, as written.
    public var host: String
    /// Named subsets; names are unique once validated.
    public var subsets: [Subset]
    /// Namespaces the rule is visible to (see `ExportTo`); empty means everywhere.
    public var exportTo: [String]
    /// `trafficPolicy`, kept raw: meshd does not apply it yet, but keeps it for later and for reads.
    public var trafficPolicy: JSONValue?

    /// Creates a DestinationRule.
    public init(host: String, subsets: [Subset] = [], exportTo: [String] = [], trafficPolicy: JSONValue? = nil) {
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
        trafficPolicy = try spec["trafficPolicy"].object().map(JSONValue.object)
    }
}

/// Istio `DestinationRule` (the subset meshd implements): subsets of a host.
public struct DestinationRule: Sendable, Hashable {
    /// The host the rule applies to, as written.
    public var host: String
    /// Named subsets; names are unique once validated.
    public var subsets: [Subset]
    /// Namespaces the rule is visible to (`.`, `*`, or names); empty means everywhere.
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
    init(reading spec: FieldReader) throws(MeshModelError) {
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
        var exportTo: [String] = []
        for reader in try spec["exportTo"].list() {
            guard let target = try reader.string() else { throw reader.error("expected a string") }
            guard target == "." || target == "*" || target == "~" || NameRules.isDNS1123Label(target) else {
                throw reader.error("must be \".\", \"*\", \"~\" or a namespace name")
            }
            exportTo.append(target)
        }
        self.exportTo = exportTo
        trafficPolicy = try spec["trafficPolicy"].object().map(JSONValue.object)
    }
}

/// Istio `LocalityLoadBalancerSetting` of a DestinationRule's `loadBalancer`: where traffic from
/// a proxy's locality goes. `distribute` weights destination localities per source locality;
/// otherwise (with outlier detection, as Istio requires) endpoints get priorities by how much of
/// the proxy's locality they share, adjusted by `failover` regions or `failoverPriority` labels.
/// Validated with Istio's rules (`ValidateLocalityLbSetting`).
public struct LocalityLoadBalancerSetting: Sendable, Hashable {
    /// One `distribute` entry: traffic from localities matching `from` is spread over the
    /// localities in `to` by percentage (the weights add up to 100).
    public struct Distribute: Sendable, Hashable {
        /// A locality pattern (`region/zone/subzone`, a trailing `*` matches any).
        public var from: String
        /// Locality pattern → percentage, sorted by pattern.
        public var to: [(pattern: String, weight: UInt32)]

        /// Creates a distribute entry.
        public init(from: String, to: [(pattern: String, weight: UInt32)]) {
            self.from = from
            self.to = to.sorted { $0.pattern < $1.pattern }
        }

        public static func == (a: Distribute, b: Distribute) -> Bool {
            a.from == b.from && a.to.elementsEqual(b.to) { $0.pattern == $1.pattern && $0.weight == $1.weight }
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(from)
            for entry in to {
                hasher.combine(entry.pattern)
                hasher.combine(entry.weight)
            }
        }
    }

    /// One `failover` entry: a proxy in region `from` fails over to region `to` before any other.
    public struct Failover: Sendable, Hashable {
        public var from: String
        public var to: String

        public init(from: String, to: String) {
            self.from = from
            self.to = to
        }
    }

    /// `distribute`.
    public var distribute: [Distribute]
    /// `failover`.
    public var failover: [Failover]
    /// `failoverPriority`: label names (or `name=value` overrides), most important first.
    public var failoverPriority: [String]
    /// `enabled`; nil when absent (Istio: enabled).
    public var enabled: Bool?

    /// Creates a locality setting.
    public init(distribute: [Distribute] = [], failover: [Failover] = [], failoverPriority: [String] = [], enabled: Bool? = nil) {
        self.distribute = distribute
        self.failover = failover
        self.failoverPriority = failoverPriority
        self.enabled = enabled
    }

    /// Whether the setting is switched off (`enabled: false`): then it does nothing at all.
    public var isDisabled: Bool { enabled == false }

    /// The label names `failoverPriority` compares (overrides' values stripped).
    public var failoverPriorityLabels: [String] {
        failoverPriority.map { entry in entry.split(separator: "=", maxSplits: 1).first.map(String.init) ?? entry }
    }

    /// The topology labels Istio puts on every endpoint and proxy, from its locality.
    public static let regionLabel = "topology.kubernetes.io/region"
    public static let zoneLabel = "topology.kubernetes.io/zone"
    public static let subzoneLabel = "topology.istio.io/subzone"
    public static let networkLabel = "topology.istio.io/network"
}

extension LocalityLoadBalancerSetting {
    /// Reads `localityLbSetting`; nil when absent.
    init?(readingIfPresent r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { return nil }
        var distribute: [Distribute] = []
        for entry in try r["distribute"].list() {
            guard try entry.object() != nil else { throw entry.error("expected an object") }
            let from = try entry["from"].string() ?? ""
            var to: [(pattern: String, weight: UInt32)] = []
            var total: UInt64 = 0
            for (pattern, reader) in try entry["to"].members() {
                guard let weight = try reader.uint32(), (1...100).contains(weight) else {
                    throw reader.error("locality weight must be in range [1, 100]")
                }
                total += UInt64(weight)
                to.append((pattern, weight))
            }
            guard total == 100 else { throw entry["to"].error("total locality weight \(total) != 100") }
            if let problem = Self.overlapProblem(to.map(\.pattern)) { throw entry["to"].error(problem) }
            distribute.append(Distribute(from: from, to: to))
        }
        var failover: [Failover] = []
        for entry in try r["failover"].list() {
            guard try entry.object() != nil else { throw entry.error("expected an object") }
            let from = try entry["from"].string() ?? ""
            let to = try entry["to"].string() ?? ""
            if from == to { throw entry.error("locality lb failover settings must specify different regions") }
            if from.contains("/") || to.contains("/") { throw entry.error("locality lb failover only specify region") }
            if from.contains("*") || to.contains("*") {
                throw entry.error("locality lb failover region should not contain '*' wildcard")
            }
            failover.append(Failover(from: from, to: to))
        }
        if !distribute.isEmpty, !failover.isEmpty {
            throw r.error("can not simultaneously specify 'distribute' and 'failover'")
        }
        let priority = try r["failoverPriority"].strings()
        if !failover.isEmpty {
            for (index, label) in priority.enumerated()
            where [Self.regionLabel, Self.zoneLabel, Self.subzoneLabel].contains(label) {
                throw FieldReader(.string(label), path: "\(r["failoverPriority"].path)[\(index)]", resource: r.resource).error(
                    "can not simultaneously set 'failover' and topology label '\(label)' in 'failover_priority'")
            }
        }
        if let problem = Self.overlapProblem(distribute.map(\.from)) { throw r["distribute"].error(problem) }
        self.init(distribute: distribute, failover: failover, failoverPriority: priority, enabled: try r["enabled"].boolean())
    }

    /// Istio's `validateLocalities`: one trailing `*` at most, no empty part, and no pattern
    /// that overlaps an earlier one (a region already given whole, a zone given twice, ...).
    static func overlapProblem(_ patterns: [String]) -> String? {
        // region → zone → subzones; "*" marks "the whole level".
        var seen: [String: [String: Set<String>]] = [:]
        for pattern in patterns {
            let stars = pattern.filter { $0 == "*" }.count
            if stars > 1 || (stars == 1 && !pattern.hasSuffix("*")) {
                return "locality \(pattern) wildcard '*' number can not exceed 1 and must be in the end"
            }
            if seen["*"] != nil { return "locality \(pattern) overlap with previous specified ones" }
            let parts = pattern.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            if parts.contains(where: \.isEmpty) { return "locality \(pattern) must not contain empty region/zone/subzone info" }
            let overlap = "locality \(pattern) overlap with previous specified ones"
            switch parts.count {
            case 1:
                if seen[parts[0]] != nil { return overlap }
                seen[parts[0]] = ["*": ["*"]]
            case 2:
                if let zones = seen[parts[0]], zones["*"] != nil || zones[parts[1]] != nil { return overlap }
                seen[parts[0], default: [:]][parts[1]] = ["*"]
            default:
                if let zones = seen[parts[0]] {
                    if zones["*"] != nil { return overlap }
                    if let subzones = zones[parts[1]], subzones.contains("*") || subzones.contains(parts[2]) { return overlap }
                }
                seen[parts[0], default: [:]][parts[1], default: []].insert(parts[2])
            }
        }
        return nil
    }
}

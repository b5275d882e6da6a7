import Discovery
import MeshModel

/// Istio's locality load balancing for one cluster and one proxy: the endpoint groups of a
/// ClusterLoadAssignment re-weighted (`distribute`) or given priorities relative to where the
/// proxy runs (failover), as istiod's `ApplyLocalityLoadBalancer` does. Both Envoy and gRPC
/// clients honour locality weights and priorities.
///
/// As in Istio, locality load balancing is on unless `enabled: false`, and failover (anything
/// beyond priority 0 for every endpoint) needs outlier detection in the same policy: without
/// it a client would never leave the first priority anyway. Priorities relative to a locality
/// need the proxy's locality; a proxy that sent none gets the groups unchanged (the label-based
/// `failoverPriority` still applies).
enum LocalityLoadBalancing {
    /// One locality's endpoints at one priority, with the locality's weight.
    struct Group: Equatable {
        var locality: Locality
        var priority: UInt32
        /// Endpoints with their (already fitted) weights.
        var endpoints: [(endpoint: Endpoint, weight: UInt32)]
        /// The locality's weight within its priority.
        var weight: UInt32

        static func == (a: Group, b: Group) -> Bool {
            a.locality == b.locality && a.priority == b.priority && a.weight == b.weight
                && a.endpoints.elementsEqual(b.endpoints) { $0.endpoint == $1.endpoint && $0.weight == $1.weight }
        }
    }

    /// Whether `policy` makes a cluster's endpoints depend on the proxy's locality or labels.
    static func isLocalitySensitive(_ policy: PolicySettings) -> Bool {
        let setting = policy.loadBalancer?.localityLbSetting
        if setting?.isDisabled == true { return false }
        return policy.outlierDetection != nil || !(setting?.distribute.isEmpty ?? true)
    }

    /// `groups` as the proxy at `locality` (nil or empty: unknown) with `labels` (its labels
    /// that failover priorities name, topology labels included) should see them under `policy`.
    static func apply(_ policy: PolicySettings, to groups: [Group], locality: Locality?, labels: [String: String]) -> [Group] {
        let setting = policy.loadBalancer?.localityLbSetting ?? LocalityLoadBalancerSetting()
        guard !setting.isDisabled else { return groups }
        let known = locality.flatMap { $0.description.isEmpty ? nil : $0 }
        if !setting.distribute.isEmpty {
            guard let known else { return groups }
            return distribute(groups, from: known, rules: setting.distribute)
        }
        guard policy.outlierDetection != nil else { return groups }
        var result = groups
        if !setting.failoverPriority.isEmpty {
            result = prioritiseByLabels(result, labels: labels, priorities: setting.failoverPriority)
            guard !setting.failover.isEmpty else { return result }
        }
        guard let known else { return result }
        return prioritiseByLocality(result, proxy: known, failover: setting.failover)
    }

    /// Istio's `LocalityMatch`: `pattern` is `region[/zone[/subzone]]`, `*` matching any part.
    static func matches(_ locality: Locality, pattern: String) -> Bool {
        let parts = pattern.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        let region = parts.first ?? ""
        let zone = parts.count > 1 ? parts[1] : ""
        let subzone = parts.count > 2 ? parts[2] : ""
        return (region == "*" || region == locality.region)
            && (zone == "*" || zone.isEmpty || zone == locality.zone)
            && (subzone == "*" || subzone.isEmpty || subzone == locality.subZone)
    }

    /// `distribute`: the first entry whose `from` matches the proxy decides; each destination
    /// pattern's percentage is shared by the groups it matches in proportion to their weights
    /// (rounded up, as Istio does); groups no pattern matches get no traffic and are left out.
    private static func distribute(_ groups: [Group], from proxy: Locality, rules: [LocalityLoadBalancerSetting.Distribute]) -> [Group] {
        let proxyLocality = Locality(region: proxy.region, zone: proxy.zone, subZone: proxy.subZone)
        guard let rule = rules.first(where: { matches(proxyLocality, pattern: $0.from) }) else { return groups }
        var result = groups
        var unmatched = Set(groups.indices)
        for (pattern, percent) in rule.to {
            let members = unmatched.filter { matches(groups[$0].locality, pattern: pattern) }.sorted()
            let total = members.reduce(UInt64(0)) { $0 + UInt64(groups[$1].weight) }
            guard total > 0 else { continue }
            for index in members {
                unmatched.remove(index)
                // At most percent + 1: no overflow, and never 0 (a zero locality weight is invalid).
                let share = (UInt64(groups[index].weight) * UInt64(percent) + total - 1) / total
                result[index].weight = UInt32(max(1, share))
            }
        }
        return result.indices.filter { !unmatched.contains($0) }.map { result[$0] }
    }

    /// `failoverPriority`: within each group, endpoints whose labels agree with the proxy's on
    /// every listed label come first; one that first disagrees on the label at index j gets
    /// priority `count - j` (the first label matters most). A `name=value` entry compares with
    /// `value` instead of the proxy's label. Priorities are then made contiguous from 0.
    private static func prioritiseByLabels(_ groups: [Group], labels: [String: String], priorities: [String]) -> [Group] {
        guard !labels.isEmpty else { return groups }
        let rules = priorities.map { entry -> (label: String, value: String?) in
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            return (parts.first ?? entry, parts.count == 2 ? parts[1] : nil)
        }
        let includesNetwork = rules.first?.label == LocalityLoadBalancerSetting.networkLabel
        var split: [Group] = []
        for group in groups {
            var byPriority: [UInt32: [(endpoint: Endpoint, weight: UInt32)]] = [:]
            for member in group.endpoints {
                let endpointLabels = topologyLabels(of: member.endpoint)
                var priority = 0
                var adjust = 0
                for (index, rule) in rules.enumerated() where (rule.value ?? labels[rule.label]) != endpointLabels[rule.label] {
                    // Istio: a network mismatch lowers every other tier instead of ending the comparison.
                    if index == 0, includesNetwork {
                        adjust = rules.count
                        continue
                    }
                    priority = rules.count - index
                    break
                }
                byPriority[UInt32(clamping: priority + adjust), default: []].append(member)
            }
            for priority in byPriority.keys.sorted() {
                let members = byPriority[priority] ?? []
                let weight = members.reduce(UInt64(0)) { $0 + UInt64($1.weight) }
                split.append(
                    Group(
                        locality: group.locality, priority: priority, endpoints: members,
                        weight: UInt32(clamping: max(1, weight))))
            }
        }
        return compacted(split)
    }

    /// Locality failover: priority 0 for the proxy's own subzone, 1 its zone, 2 its region, 3
    /// elsewhere — or, when a `failover` entry names the proxy's region, 3 only for its target
    /// region and 4 for the rest. Combined with earlier label priorities (×5), then compacted.
    private static func prioritiseByLocality(_ groups: [Group], proxy: Locality, failover: [LocalityLoadBalancerSetting.Failover]) -> [Group] {
        groups.map { group in
            var priority: UInt32
            if group.locality.region != proxy.region {
                priority = 3
                if let rule = failover.first(where: { $0.from == proxy.region }), group.locality.region != rule.to { priority = 4 }
            } else if group.locality.zone != proxy.zone {
                priority = 2
            } else if group.locality.subZone != proxy.subZone {
                priority = 1
            } else {
                priority = 0
            }
            var next = group
            // Label priorities are at most the number of failoverPriority entries, far below 2^29.
            next.priority = group.priority &* 5 &+ priority
            return next
        }.reduce(into: [Group]()) { $0.append($1) }.compactedPriorities()
    }

    /// Renumbers priorities 0...N without gaps, keeping their order (Envoy and gRPC both
    /// require contiguous priorities).
    static func compacted(_ groups: [Group]) -> [Group] { groups.compactedPriorities() }

    /// The endpoint's labels with Istio's topology labels for its locality and network added.
    static func topologyLabels(of endpoint: Endpoint) -> [String: String] {
        var labels = endpoint.labels
        let locality = endpoint.locality
        if !locality.region.isEmpty { labels[LocalityLoadBalancerSetting.regionLabel] = locality.region }
        if !locality.zone.isEmpty { labels[LocalityLoadBalancerSetting.zoneLabel] = locality.zone }
        if !locality.subZone.isEmpty { labels[LocalityLoadBalancerSetting.subzoneLabel] = locality.subZone }
        if let network = endpoint.network, !network.isEmpty { labels[LocalityLoadBalancerSetting.networkLabel] = network }
        return labels
    }
}

extension Array where Element == LocalityLoadBalancing.Group {
    func compactedPriorities() -> [Element] {
        let order = Dictionary(uniqueKeysWithValues: Set(map(\.priority)).sorted().enumerated().map { ($1, UInt32($0)) })
        return map { group in
            var next = group
            next.priority = order[group.priority] ?? group.priority
            return next
        }
    }
}

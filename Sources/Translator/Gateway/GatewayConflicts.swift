import MeshModel

/// The Gateway servers a merge skips, worked out once per PushContext so they can be reported
/// (apply warnings, `/debug/push_status`, a metric, a log line) rather than found per proxy.
///
/// Which Gateways one proxy merges depends on its labels, unknown here; two Gateways can meet on
/// some proxy when their selectors agree on every label both name. Each Gateway is merged after
/// the older ones it can meet, as a proxy selected by all of them would merge them, and its
/// skipped servers are reported against it.
enum GatewayConflicts {
    /// How every skipped-server warning starts.
    static let prefix = "server skipped: "

    /// One warning per skipped server, oldest Gateway first.
    static func warnings(_ gateways: GatewayIndex) -> [ConfigWarning] {
        var warnings: [ConfigWarning] = []
        for (index, entry) in gateways.entries.enumerated() {
            let older = gateways.entries[..<index].filter { canMeet($0.spec.selector, entry.spec.selector) }
            let merged = MergedGateway(Array(older) + [entry], reservedPorts: EnvoyNames.reservedPorts)
            for rejection in merged.rejected where rejection.server.gateway == entry.key {
                let others = older.map(\.bindingName)
                let scope = others.isEmpty ? "" : " (on gateway proxies that also select \(others.joined(separator: ", ")))"
                warnings.append(
                    ConfigWarning(
                        key: entry.key, field: "spec.servers[\(rejection.server.index)]",
                        message: prefix + rejection.reason + scope))
            }
        }
        return warnings
    }

    /// Whether some proxy's labels satisfy both selectors.
    static func canMeet(_ a: [String: String], _ b: [String: String]) -> Bool {
        a.allSatisfy { key, value in b[key].map { $0 == value } ?? true }
    }
}

import MeshModel

/// The `meshctl proxy-config` tables, built from the config dump's decoded resources (proto
/// field names, as meshd's `/debug/config_dump` renders them). Pure functions of the JSON, and
/// generic: they read Envoy's field names wherever they occur, so a proxyless gRPC client's API
/// listeners and an Envoy sidecar's port listeners print alike.
enum ProxyConfigTables {
    /// The dump's resources by xDS short name (`LDS`, `RDS`, `CDS`, `EDS`), each the decoded
    /// resource itself.
    static func resources(in dump: JSONValue) -> [String: [JSONValue]] {
        guard case .object(let byType)? = dump["resources"] else { return [:] }
        return byType.mapValues { entries in (entries.arrayValue ?? []).compactMap { $0["resource"] } }
    }

    // MARK: Clusters

    /// SERVICE FQDN, PORT, SUBSET, DIRECTION, TYPE, DESTINATION RULE: Istio's names
    /// `outbound|PORT|SUBSET|HOST` and `inbound|PORT||` split into columns; another name fills
    /// the first column alone.
    static func clusters(_ clusters: [JSONValue]) -> TextTable {
        var table = TextTable(header: ["SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION RULE"])
        let rows = clusters.map { cluster -> [String] in
            let name = cluster["name"]?.stringValue ?? "<unnamed>"
            let fields = name.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            let type = clusterType(cluster)
            let rule = istioConfig(cluster["metadata"]) ?? "-"
            if fields.count == 4, fields[0] == "outbound" || fields[0] == "inbound" {
                return [fields[3].isEmpty ? "-" : fields[3], fields[1], fields[2].isEmpty ? "-" : fields[2], fields[0], type, rule]
            }
            return [name, "-", "-", "-", type, rule]
        }
        for row in rows.sorted(by: { ($0[0], $0[1], $0[2], $0[3]) < ($1[0], $1[1], $1[2], $1[3]) }) { table.append(row) }
        return table
    }

    /// Envoy's discovery type (`EDS`, `STRICT_DNS`, `ORIGINAL_DST`...), a custom cluster type's
    /// name (`aggregate`), else `STATIC`, Envoy's default.
    static func clusterType(_ cluster: JSONValue) -> String {
        if let type = cluster["type"]?.stringValue { return type }
        if let custom = cluster["cluster_type"]?["name"]?.stringValue {
            return custom.split(separator: ".").last.map(String.init) ?? custom
        }
        return cluster["eds_cluster_config"] != nil ? "EDS" : "STATIC"
    }

    /// `NAME.NAMESPACE` of the Istio resource a generated resource came from, when its metadata
    /// says (`filter_metadata.istio.config: /apis/networking.istio.io/v1/namespaces/NS/KIND/NAME`,
    /// as istiod marks them).
    static func istioConfig(_ metadata: JSONValue?) -> String? {
        guard let path = metadata?["filter_metadata"]?["istio"]?["config"]?.stringValue else { return nil }
        let parts = path.split(separator: "/").map(String.init)
        guard let index = parts.firstIndex(of: "namespaces"), index + 3 < parts.count else { return path }
        return "\(parts[index + 3]).\(parts[index + 1])"
    }

    // MARK: Listeners

    /// NAME, ADDRESSES, PORT, MATCH, DESTINATION: one row per filter chain (and the default
    /// chain), or one for an API listener (proxyless gRPC), whose destination is its route.
    static func listeners(_ listeners: [JSONValue]) -> TextTable {
        var table = TextTable(header: ["NAME", "ADDRESSES", "PORT", "MATCH", "DESTINATION"])
        var rows: [[String]] = []
        for listener in listeners {
            let name = listener["name"]?.stringValue ?? "<unnamed>"
            let socket = listener["address"]?["socket_address"]
            let address = socket?["address"]?.stringValue ?? listener["address"]?["pipe"]?["path"]?.stringValue ?? "-"
            let port = socket?["port_value"]?.displayText ?? "-"
            if let api = listener["api_listener"]?["api_listener"] {
                rows.append([name, address, port, "ALL", destination(ofFilter: api)])
                continue
            }
            for chain in listener["filter_chains"]?.arrayValue ?? [] {
                rows.append([name, address, port, match(chain["filter_chain_match"]), destination(ofChain: chain)])
            }
            if let fallback = listener["default_filter_chain"] {
                rows.append([name, address, port, "ALL (default chain)", destination(ofChain: fallback)])
            }
            if listener["filter_chains"] == nil && listener["default_filter_chain"] == nil {
                let handoff = listener["use_original_dst"] == .bool(true) ? "original destination's listener" : "-"
                rows.append([name, address, port, "ALL", handoff])
            }
        }
        for row in rows.sorted(by: { ($0[0], $0[2]) < ($1[0], $1[2]) }) { table.append(row) }
        return table
    }

    /// A filter chain match in istioctl's words: `ALL` when it matches everything, else its
    /// conditions joined by `; `.
    static func match(_ match: JSONValue?) -> String {
        guard let match else { return "ALL" }
        var parts: [String] = []
        if let port = match["destination_port"]?.displayText { parts.append("Port: \(port)") }
        let ranges = (match["prefix_ranges"]?.arrayValue ?? []).compactMap { range -> String? in
            guard let prefix = range["address_prefix"]?.stringValue else { return nil }
            return "\(prefix)/\(range["prefix_len"]?.displayText ?? "32")"
        }
        if !ranges.isEmpty { parts.append("Addr: \(ranges.joined(separator: ","))") }
        let names = (match["server_names"]?.arrayValue ?? []).compactMap(\.stringValue)
        if !names.isEmpty { parts.append("SNI: \(names.joined(separator: ","))") }
        if let transport = match["transport_protocol"]?.stringValue { parts.append("Trans: \(transport)") }
        let protocols = (match["application_protocols"]?.arrayValue ?? []).compactMap(\.stringValue)
        if !protocols.isEmpty { parts.append("App: \(protocols.joined(separator: ","))") }
        return parts.isEmpty ? "ALL" : parts.joined(separator: "; ")
    }

    /// Where a filter chain sends traffic: its HTTP connection manager's route, its TCP proxy's
    /// cluster, or the name of its last filter.
    static func destination(ofChain chain: JSONValue) -> String {
        let filters = chain["filters"]?.arrayValue ?? []
        for filter in filters.reversed() {
            if let config = filter["typed_config"] { return destination(ofFilter: config, name: filter["name"]?.stringValue) }
        }
        return filters.last?["name"]?.stringValue ?? "-"
    }

    /// A network filter's (or API listener's) destination from its typed config.
    static func destination(ofFilter config: JSONValue, name: String? = nil) -> String {
        if let route = config["rds"]?["route_config_name"]?.stringValue { return "Route: \(route)" }
        if let inline = config["route_config"] { return "Inline Route: \(inline["name"]?.stringValue ?? "")" }
        if let cluster = config["cluster"]?.stringValue { return "Cluster: \(cluster)" }
        if let weighted = config["weighted_clusters"]?["clusters"]?.arrayValue {
            return "Clusters: " + weighted.compactMap { $0["name"]?.stringValue }.joined(separator: ",")
        }
        return name ?? config["@type"]?.stringValue?.split(separator: ".").last.map(String.init) ?? "-"
    }
}

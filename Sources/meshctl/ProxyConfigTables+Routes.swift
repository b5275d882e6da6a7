import MeshModel

/// The routes, endpoints and secrets tables of `meshctl proxy-config`.
extension ProxyConfigTables {
    // MARK: Routes

    /// NAME, VHOST NAME, DOMAINS, MATCH, VIRTUAL SERVICE: one row per route of every route
    /// configuration, RDS ones and those inline in listeners.
    static func routes(_ configurations: [JSONValue], listeners: [JSONValue]) -> TextTable {
        let inline = listeners.flatMap { listener -> [JSONValue] in
            var found: [JSONValue] = []
            collect(listener, into: &found) { $0["virtual_hosts"] != nil }
            return found
        }
        var table = TextTable(header: ["NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"])
        var rows: [[String]] = []
        for configuration in configurations + inline {
            let name = configuration["name"]?.stringValue ?? "<inline>"
            for host in configuration["virtual_hosts"]?.arrayValue ?? [] {
                let domains = (host["domains"]?.arrayValue ?? []).compactMap(\.stringValue)
                let shownDomains =
                    domains.count > 2
                    ? "\(domains[0]) + \(domains.count - 1) more" : domains.joined(separator: ", ")
                let hostName = host["name"]?.stringValue ?? "-"
                let routes = host["routes"]?.arrayValue ?? []
                if routes.isEmpty { rows.append([name, hostName, shownDomains, "-", "-"]) }
                for route in routes {
                    rows.append([
                        name, hostName, shownDomains, routeMatch(route["match"]),
                        istioConfig(route["metadata"]) ?? route["name"]?.stringValue.map { "(route \($0))" } ?? "-",
                    ])
                }
            }
        }
        for row in rows { table.append(row) }
        return table
    }

    /// A route match as istioctl prints it: the path condition, then headers.
    static func routeMatch(_ match: JSONValue?) -> String {
        guard let match else { return "-" }
        var parts: [String] = []
        if let prefix = match["prefix"]?.stringValue { parts.append("\(prefix)*") }
        if let path = match["path"]?.stringValue { parts.append(path) }
        if let prefix = match["path_separated_prefix"]?.stringValue { parts.append("\(prefix)/*") }
        if let regex = match["safe_regex"]?["regex"]?.stringValue { parts.append("regex \(regex)") }
        for header in match["headers"]?.arrayValue ?? [] {
            let name = header["name"]?.stringValue ?? "?"
            parts.append("header \(name)")
        }
        if match["grpc"] != nil { parts.append("gRPC only") }
        return parts.isEmpty ? "/*" : parts.joined(separator: " ")
    }

    // MARK: Endpoints

    /// ENDPOINT, STATUS, OUTLIER CHECK, CLUSTER: one row per endpoint. Outlier ejection is state
    /// inside the proxy, which meshd does not see: the column says so rather than guess.
    static func endpoints(_ assignments: [JSONValue]) -> TextTable {
        var table = TextTable(header: ["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"])
        var rows: [[String]] = []
        for assignment in assignments {
            let cluster = assignment["cluster_name"]?.stringValue ?? "-"
            for locality in assignment["endpoints"]?.arrayValue ?? [] {
                for endpoint in locality["lb_endpoints"]?.arrayValue ?? [] {
                    let socket = endpoint["endpoint"]?["address"]?["socket_address"]
                    let address =
                        socket.map { "\($0["address"]?.stringValue ?? "?"):\($0["port_value"]?.displayText ?? "?")" }
                        ?? endpoint["endpoint"]?["address"]?["pipe"]?["path"]?.stringValue ?? "?"
                    rows.append([address, endpoint["health_status"]?.stringValue ?? "HEALTHY", "N/A (in proxy)", cluster])
                }
            }
        }
        for row in rows.sorted(by: { ($0[3], $0[0]) < ($1[3], $1[0]) }) { table.append(row) }
        return table
    }

    // MARK: Secrets

    /// Every secret the resources reference, once per name and source: SDS configs
    /// (`{name, sds_config}`, Envoy; served by mesh-agent) and certificate provider instances
    /// (`{instance_name, certificate_name}`, gRPC's file_watcher).
    static func secretReferences(in resources: [String: [JSONValue]]) -> [JSONValue] {
        var seen: [String: (type: String, name: String, source: String, users: Set<String>)] = [:]
        for (_, list) in resources {
            for resource in list {
                let owner = resource["name"]?.stringValue ?? resource["cluster_name"]?.stringValue ?? "?"
                var found: [JSONValue] = []
                collect(resource, into: &found) {
                    ($0["sds_config"] != nil && $0["name"] != nil) || $0["instance_name"] != nil
                }
                for reference in found {
                    let entry: (type: String, name: String, source: String)
                    if let instance = reference["instance_name"]?.stringValue {
                        entry = ("certificate provider", reference["certificate_name"]?.stringValue ?? "", instance)
                    } else {
                        let grpc = reference["sds_config"]?["api_config_source"]?["grpc_services"]?.arrayValue?.first
                        let source =
                            grpc?["envoy_grpc"]?["cluster_name"]?.stringValue
                            ?? (reference["sds_config"]?["ads"] != nil ? "ADS" : "-")
                        entry = ("SDS", reference["name"]?.stringValue ?? "", source)
                    }
                    let key = "\(entry.type)|\(entry.name)|\(entry.source)"
                    seen[key, default: (entry.type, entry.name, entry.source, [])].users.insert(owner)
                }
            }
        }
        // What meshd itself serves (a gateway's credentials over ADS): served or not, and the
        // certificate's serial and expiry. The dump carries no key (meshd redacts it).
        let served = Dictionary(
            (resources["SDS"] ?? []).compactMap { item in item["name"]?.stringValue.map { ($0, item["resource"] ?? .null) } },
            uniquingKeysWith: { first, _ in first })
        return seen.keys.sorted().compactMap { key in
            guard let entry = seen[key] else { return nil }
            var members: [String: JSONValue] = [
                "name": .string(entry.name), "type": .string(entry.type), "source": .string(entry.source),
                "referencedBy": .array(entry.users.sorted().map { .string($0) }),
            ]
            if entry.source == "ADS" {
                let resource = served[entry.name]
                members["served"] = .bool(resource != nil)
                if let resource, let certificate = SecretCertificate.first(in: resource) {
                    members["serial"] = .string(certificate.serial)
                    members["notAfter"] = .string(certificate.notAfter)
                }
            }
            return .object(members)
        }
    }

    /// RESOURCE NAME, TYPE, SOURCE, STATUS (for what meshd serves: served or waiting), SERIAL,
    /// NOT AFTER, REFERENCED BY.
    static func secrets(_ references: [JSONValue]) -> TextTable {
        var table = TextTable(header: ["RESOURCE NAME", "TYPE", "SOURCE", "STATUS", "SERIAL", "NOT AFTER", "REFERENCED BY"])
        for reference in references {
            let users = (reference["referencedBy"]?.arrayValue ?? []).compactMap(\.stringValue)
            let shown = users.count > 3 ? users.prefix(3).joined(separator: ",") + " + \(users.count - 3) more" : users.joined(separator: ",")
            let status: String =
                switch reference["served"] {
                case .bool(true): "served"
                case .bool(false): "not served"
                default: "-"
                }
            table.append([
                reference["name"]?.stringValue ?? "", reference["type"]?.stringValue ?? "",
                reference["source"]?.stringValue ?? "", status, reference["serial"]?.stringValue ?? "-",
                reference["notAfter"]?.stringValue ?? "-", shown,
            ])
        }
        return table
    }

    /// Every table, titled, as `proxy-config all` prints them.
    static func all(_ resources: [String: [JSONValue]]) -> String {
        [
            ("CLUSTERS", clusters(resources["CDS"] ?? [])),
            ("LISTENERS", listeners(resources["LDS"] ?? [])),
            ("ROUTES", routes(resources["RDS"] ?? [], listeners: resources["LDS"] ?? [])),
            ("ENDPOINTS", endpoints(resources["EDS"] ?? [])),
            ("SECRETS", secrets(secretReferences(in: resources))),
        ].map { "\($0.0)\n\($0.1.render())" }.joined(separator: "\n")
    }

    /// Every object inside `value` (itself included) for which `matches` holds, depth first.
    static func collect(_ value: JSONValue, into found: inout [JSONValue], where matches: (JSONValue) -> Bool) {
        switch value {
        case .object(let members):
            if matches(value) { found.append(value) }
            for key in members.keys.sorted() { if let member = members[key] { collect(member, into: &found, where: matches) } }
        case .array(let elements):
            for element in elements { collect(element, into: &found, where: matches) }
        default:
            break
        }
    }
}

import Discovery
import MeshModel
import Translator

/// The dashboard's picture of the mesh (`GET /api/v1/overview`): every service with its subsets,
/// the weight each subset gets from the VirtualService routing to the host, its workloads and
/// their health, and the connected proxies with their sync state per xDS type.
///
/// Pure: built from one `PushContext` and the proxies' `/debug/syncz` entries (this replica's and,
/// on etcd, its peers'), so every rule here is testable without HTTP. docs/admin-api.md gives the shape.
public enum MeshOverview {
    /// The overview of `push` (nil before the first build: no services) and `proxies`
    /// (`/debug/syncz` entries).
    public static func make(push: PushContext?, proxies: [JSONValue]) -> JSONValue {
        .object([
            "revision": push.map { .number(Double($0.revision)) } ?? .null,
            "services": .array(push.map { push in push.registry.sortedServices.map { service($0, in: push) } } ?? []),
            "proxies": .array(proxies.compactMap(proxy).sorted { sortKey($0) < sortKey($1) }),
        ])
    }

    /// One service: as seen from its own namespace (the VirtualService and DestinationRule a
    /// proxy there would use), which is the view its owners reason about.
    static func service(_ service: Service, in push: PushContext) -> JSONValue {
        let namespace = service.namespace
        let virtualService = push.virtualService(for: service.host, serviceNamespace: namespace, from: namespace)
        let rule = push.destinationRule(for: service.host, serviceNamespace: namespace, from: namespace)
        let rules = virtualService.map { routes(of: $0) } ?? []
        let subsets = rule?.spec.subsets ?? []
        var members: [String: JSONValue] = [
            "host": .string(service.host),
            "namespace": .string(namespace),
            "resolution": .string(service.resolution.rawValue),
            "ports": .array(
                service.ports.map { port in
                    .object(["number": .number(Double(port.number)), "name": .string(port.name), "protocol": .string(port.protocolName)])
                }),
            "routes": .array(rules.map(\.json)),
            "subsets": .array(
                subsets.map { subset in
                    .object([
                        "name": .string(subset.name),
                        "labels": .object(subset.labels.mapValues(JSONValue.string)),
                        // One entry per route: what that route sends to the subset (0 when it names it not).
                        "weights": .array(
                            rules.map { route in
                                .object([
                                    "route": .string(route.label), "weight": .number(Double(route.weight(host: service.host, subset: subset.name))),
                                ])
                            }),
                    ])
                }),
            "workloads": .array(workloads(of: service, registry: push.registry, subsets: subsets)),
        ]
        // A VirtualService generated from Gateway API routes is named by those routes instead.
        let gatewayRoutes = virtualService?.routes ?? []
        members["virtualService"] =
            gatewayRoutes.isEmpty ? virtualService.map { .string("\($0.key.namespace)/\($0.key.name)") } ?? .null : .null
        members["gatewayRoutes"] = .array(gatewayRoutes.map { .string("\($0.kind.rawValue) \($0.namespace)/\($0.name)") })
        members["destinationRule"] = rule.map { .string("\($0.key.namespace)/\($0.key.name)") } ?? .null
        return .object(members)
    }

    /// One routing rule of a VirtualService and where it sends traffic.
    struct Route {
        /// `http[0]`, `tcp[1]`, `tls[0]`.
        var label: String
        /// The rule's `name` (HTTP routes only).
        var name: String?
        /// Whether the rule has match conditions (it only takes the traffic they select).
        var matched: Bool
        /// Resolved destinations with their effective weights (a lone destination takes 100).
        var destinations: [(host: String, subset: String?, port: UInt32?, weight: Int)]

        /// The share this rule gives `subset` of `host` (summed if named twice).
        func weight(host: String, subset: String) -> Int {
            destinations.reduce(0) { sum, destination in
                guard destination.host == host, destination.subset == subset else { return sum }
                // Weights come from users: saturate rather than trap.
                let (total, overflow) = sum.addingReportingOverflow(destination.weight)
                return overflow ? .max : total
            }
        }

        var json: JSONValue {
            var members: [String: JSONValue] = [
                "route": .string(label), "matched": .bool(matched),
                "destinations": .array(
                    destinations.map { destination in
                        var members: [String: JSONValue] = ["host": .string(destination.host), "weight": .number(Double(destination.weight))]
                        members["subset"] = destination.subset.map(JSONValue.string) ?? .null
                        if let port = destination.port { members["port"] = .number(Double(port)) }
                        return .object(members)
                    }),
            ]
            if let name { members["name"] = .string(name) }
            return .object(members)
        }
    }

    /// The rules of `entry`, HTTP then TCP then TLS, hosts resolved in the VirtualService's namespace.
    static func routes(of entry: PushContext.VirtualServiceEntry) -> [Route] {
        let namespace = entry.key.namespace
        func resolved(_ destinations: [(Destination, Int?)]) -> [(host: String, subset: String?, port: UInt32?, weight: Int)] {
            // Istio's rule, as the route generator reads it: a lone destination takes all traffic.
            let single = destinations.count == 1
            return destinations.map { destination, weight in
                let subset = destination.subset.flatMap { $0.isEmpty ? nil : $0 }
                return (
                    HostName.resolve(destination.host, namespace: namespace), subset, destination.port,
                    max(0, weight ?? (single ? 100 : 0))
                )
            }
        }
        let spec = entry.spec
        return spec.http.enumerated().map { index, rule in
            var weights = rule.route.map { ($0.destination, $0.weight) }
            // A Gateway API route's weights are relative (1:1 is half each): shown as percent shares.
            if !entry.routes.isEmpty {
                let total = rule.route.reduce(0.0) { $0 + Double(max(0, $1.weight ?? 0)) }
                weights = rule.route.map { ($0.destination, total > 0 ? Int((Double(max(0, $0.weight ?? 0)) * 100 / total).rounded()) : 0) }
            }
            return Route(
                label: "http[\(index)]", name: rule.name, matched: !rule.match.isEmpty, destinations: resolved(weights))
        }
            + spec.tcp.enumerated().map { index, rule in
                Route(
                    label: "tcp[\(index)]", name: nil, matched: !rule.match.isEmpty,
                    destinations: resolved(rule.route.map { ($0.destination, $0.weight) }))
            }
            + spec.tls.enumerated().map { index, rule in
                Route(
                    label: "tls[\(index)]", name: nil, matched: !rule.match.isEmpty,
                    destinations: resolved(rule.route.map { ($0.destination, $0.weight) }))
            }
    }

    /// The service's workloads, one per source resource and address, with the service ports
    /// they serve, their health and the subsets whose labels they carry.
    static func workloads(of service: Service, registry: RegistrySnapshot, subsets: [Subset]) -> [JSONValue] {
        struct Key: Hashable {
            var source: RegistrySource
            var address: String
        }
        var order: [Key] = []
        var found: [Key: (endpoint: Endpoint, ports: [JSONValue])] = [:]
        for port in service.ports {
            for endpoint in registry.endpoints[service.host]?[port.number] ?? [] {
                let key = Key(source: endpoint.source, address: endpoint.address)
                let mapping = JSONValue.object(["service": .number(Double(port.number)), "target": .number(Double(endpoint.port))])
                if found[key] == nil {
                    order.append(key)
                    found[key] = (endpoint, [])
                }
                found[key]?.ports.append(mapping)
            }
        }
        return order.sorted { ($0.source, $0.address) < ($1.source, $1.address) }.compactMap { key in
            guard let (endpoint, ports) = found[key] else { return nil }
            var members: [String: JSONValue] = [
                "name": .string("\(key.source.namespace)/\(key.source.name)"),
                "kind": .string(key.source.kind.rawValue),
                "address": .string(endpoint.address),
                "labels": .object(endpoint.labels.mapValues(JSONValue.string)),
                "health": .string(endpoint.health.rawValue),
                "ports": .array(ports),
                "subsets": .array(subsets.filter { endpoint.matches($0.labels) }.map { .string($0.name) }),
            ]
            var locality = [endpoint.locality.region, endpoint.locality.zone, endpoint.locality.subZone]
            while locality.last?.isEmpty == true { locality.removeLast() }
            if !locality.isEmpty { members["locality"] = .string(locality.joined(separator: "/")) }
            return .object(members)
        }
    }

    /// A `/debug/syncz` entry reduced to what the dashboard shows: who the proxy is and, per xDS
    /// type, SYNCED / STALE / NOT SENT and the last NACK's message.
    static func proxy(_ entry: JSONValue) -> JSONValue? {
        guard let members = entry.objectValue, let id = members["proxyID"]?.stringValue else { return nil }
        var types: [String: JSONValue] = [:]
        var nacks: [JSONValue] = []
        for (name, state) in members["types"]?.objectValue ?? [:] {
            var type: [String: JSONValue] = ["status": .string(state["status"]?.stringValue ?? "NOT SENT")]
            if let error = state["error"]?.stringValue {
                type["nack"] = .string(error)
                nacks.append(.object(["type": .string(name), "message": .string(error)]))
            }
            types[name] = .object(type)
        }
        var proxy: [String: JSONValue] = [
            "proxyID": .string(id),
            "kind": members["kind"] ?? .string("unknown"),
            "namespace": members["namespace"] ?? .null,
            "protocol": members["protocol"] ?? .null,
            "synced": members["synced"] ?? .bool(false),
            "types": .object(types),
            "nacks": .array(nacks.sorted { sortKey($0, "type") < sortKey($1, "type") }),
        ]
        for optional in ["replica", "connectedAt", "connectionID"] { if let value = members[optional] { proxy[optional] = value } }
        return .object(proxy)
    }

    private static func sortKey(_ value: JSONValue, _ key: String = "proxyID") -> String {
        value[key]?.stringValue ?? ""
    }
}

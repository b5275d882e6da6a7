import ArgumentParser
import MeshModel

/// `meshctl proxy-config TYPE PROXY`: what meshd sends one connected proxy, as tables like
/// `istioctl proxy-config` prints (from meshd's `/debug/config_dump`, so it is what the control
/// plane sent, not what the proxy accepted: `proxy-status` says whether it ACKed).
struct ProxyConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy-config",
        abstract: "Show the listeners, routes, clusters, endpoints or secrets meshd sends a proxy.",
        discussion: """
            PROXY is a proxy id as 'meshctl proxy-status' lists it, or the POD.NAMESPACE part of \
            an Istio id (sidecar~IP~POD.NAMESPACE~...). Tables are generic over the resources: an \
            Envoy sidecar's, an Envoy gateway's and a proxyless gRPC client's all print. 'secrets' lists the secrets \
            the resources reference (served by mesh-agent over SDS, or by a gRPC certificate \
            provider), not their contents, which never pass through meshd. -o json or yaml prints \
            the resources of the type; 'all' with -o prints meshd's whole config dump of the proxy.
            """,
        aliases: ["pc"])

    /// What to show.
    enum ResourceType: String, CaseIterable, ExpressibleByArgument, Sendable {
        case listeners, routes, clusters, endpoints, secrets, all

        init?(argument: String) {
            let aliases: [String: ResourceType] = [
                "listener": .listeners, "l": .listeners, "route": .routes, "r": .routes,
                "cluster": .clusters, "c": .clusters, "endpoint": .endpoints, "ep": .endpoints,
                "secret": .secrets, "s": .secrets,
            ]
            guard let type = ResourceType(rawValue: argument.lowercased()) ?? aliases[argument.lowercased()] else { return nil }
            self = type
        }

        /// The config dump's key for the type (its xDS short name).
        var dumpKey: String? {
            switch self {
            case .listeners: "LDS"
            case .routes: "RDS"
            case .clusters: "CDS"
            case .endpoints: "EDS"
            case .secrets, .all: nil
            }
        }
    }

    @ParentCommand var root: MeshctlCommand

    @Argument(help: "listeners, routes, clusters, endpoints, secrets or all.")
    var type: ResourceType

    @Argument(help: "The proxy id (see 'meshctl proxy-status'), or POD.NAMESPACE.")
    var proxy: String

    @Option(name: .shortAndLong, help: "Output format: table, yaml or json.")
    var output: OutputFormat = .table

    func run() async throws {
        let dump = try await AdminClient.withClient(root.global) { client in
            try await client.configDump(proxyID: try await resolvedProxyID(client))
        }
        let resources = ProxyConfigTables.resources(in: dump)
        let selected: JSONValue
        switch type {
        case .all: selected = dump
        case .secrets: selected = .array(ProxyConfigTables.secretReferences(in: resources))
        default: selected = .array(resources[type.dumpKey ?? ""] ?? [])
        }
        switch output {
        case .json: Console.out(selected.prettyJSON() + "\n")
        case .yaml: Console.out(try selected.yamlDocument())
        case .table:
            let table: TextTable
            switch type {
            case .listeners: table = ProxyConfigTables.listeners(resources["LDS"] ?? [])
            case .routes: table = ProxyConfigTables.routes(resources["RDS"] ?? [], listeners: resources["LDS"] ?? [])
            case .clusters: table = ProxyConfigTables.clusters(resources["CDS"] ?? [])
            case .endpoints: table = ProxyConfigTables.endpoints(resources["EDS"] ?? [])
            case .secrets: table = ProxyConfigTables.secrets(ProxyConfigTables.secretReferences(in: resources))
            case .all:
                Console.out(ProxyConfigTables.all(resources))
                return
            }
            Console.out(table.render())
        }
    }

    /// `proxy` as given when meshd knows it; else the one connected proxy whose Istio id has
    /// `proxy` as its POD.NAMESPACE field (as istioctl takes `pod.namespace`).
    private func resolvedProxyID(_ client: AdminClient) async throws -> String {
        let ids = (try await client.syncStatus().arrayValue ?? []).compactMap { $0["proxyID"]?.stringValue }
        if ids.contains(proxy) { return proxy }
        let matches = ids.filter { id in
            let fields = id.split(separator: "~", omittingEmptySubsequences: false)
            return fields.count == 4 && fields[2] == proxy
        }
        if matches.count == 1 { return matches[0] }
        if matches.count > 1 {
            throw MeshctlError(.input, "'\(proxy)' matches several proxies: \(matches.sorted().joined(separator: ", "))")
        }
        throw MeshctlError(.input, "no proxy '\(proxy)' is connected to meshd (see 'meshctl proxy-status')")
    }
}

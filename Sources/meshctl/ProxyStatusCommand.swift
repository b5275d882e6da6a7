import ArgumentParser
import MeshModel

/// `meshctl proxy-status`: the xDS sync state of every connected proxy, like istioctl's.
struct ProxyStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy-status",
        abstract: "Show whether each connected proxy has the latest config, per xDS type.",
        discussion: """
            SYNCED: the proxy ACKed what meshd last sent. STALE: a response is unacknowledged or was \
            rejected (the ERROR column shows the NACK detail). NOT SENT: nothing of that type was sent. \
            KIND is proxyless-grpc, sidecar or router; AUTH is mtls when the proxy connected with its \
            mesh certificate (its namespace is the certificate's), else none.
            """,
        aliases: ["ps"])

    /// The columns in istioctl's order, which is also the order meshd pushes them
    /// (make-before-break: clusters before listeners, endpoints before routes).
    static let types = ["CDS", "LDS", "EDS", "RDS"]

    @ParentCommand var root: MeshctlCommand

    @Option(name: .shortAndLong, help: "Output format: table, yaml or json.")
    var output: OutputFormat = .table

    func run() async throws {
        let answer = try await AdminClient.withClient(root.global) { try await $0.syncStatus() }
        guard let proxies = answer.arrayValue else {
            throw MeshctlError(.badResponse, "syncz response from meshd is not a JSON array")
        }
        switch output {
        case .json: Console.out(answer.prettyJSON() + "\n")
        case .yaml: Console.out(try answer.yamlDocument())
        case .table:
            if proxies.isEmpty {
                Console.err("No proxies are connected to meshd.")
            } else {
                Console.out(Self.table(for: proxies))
            }
        }
    }

    /// NAME KIND NAMESPACE AUTH CDS LDS EDS RDS, plus ERROR when any proxy has a rejected type;
    /// sorted by name.
    static func table(for proxies: [JSONValue]) -> String {
        let rows = proxies.map { proxy -> (name: String, identity: [String], statuses: [String], error: String) in
            let name = proxy["proxyID"]?.stringValue ?? "<unknown>"
            let identity = [
                proxy["kind"]?.stringValue ?? "-", proxy["namespace"]?.stringValue ?? "-",
                proxy["authenticated"] == .bool(true) ? "mtls" : "none",
            ]
            var statuses: [String] = []
            var errors: [String] = []
            for type in types {
                let state = proxy["types"]?[type]
                let status = state?["status"]?.stringValue ?? "NOT SENT"
                statuses.append(status)
                if status == "STALE", let error = state?["error"]?.stringValue, !error.isEmpty {
                    errors.append("\(type): \(error)")
                }
            }
            return (name, identity, statuses, errors.joined(separator: "; "))
        }.sorted { $0.name < $1.name }

        let showErrors = rows.contains { !$0.error.isEmpty }
        var table = TextTable(header: ["NAME", "KIND", "NAMESPACE", "AUTH"] + types + (showErrors ? ["ERROR"] : []))
        for row in rows {
            table.append([row.name] + row.identity + row.statuses + (showErrors ? [row.error] : []))
        }
        return table.render()
    }
}

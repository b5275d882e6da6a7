import ArgumentParser
import MeshModel

/// `meshctl history [KIND [NAME]] [-n NS]`: the config changes meshd recorded, newest first.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "List recorded config changes (revisions), newest first.",
        discussion: """
            Every apply, delete, registry write and rollback is one revision. KIND (and NAME) keep \
            the revisions that touched such resources; with NAME the namespace is 'default' unless \
            -n is given. 'meshctl diff REV' shows what changed since a revision, 'meshctl rollback \
            --to REV' restores it.
            """)

    @ParentCommand var root: MeshctlCommand

    @Argument(help: "Resource kind, e.g. VirtualService, dr, se.")
    var kind: String?

    @Argument(help: "Resource name (needs KIND).")
    var name: String?

    @Option(name: .shortAndLong, help: "Namespace (default: all; 'default' when NAME is given).")
    var namespace: String?

    @Option(name: .long, help: "Most revisions to list (1-1000).")
    var limit = 50

    @Option(name: .shortAndLong, help: "Output format: table, yaml or json.")
    var output: OutputFormat = .table

    /// Changes named in the CHANGES column before it says how many more there are.
    static let shownChanges = 3

    func run() async throws {
        let answer = try await AdminClient.withClient(root.global) { client in
            try await client.history(kind: kind, namespace: namespace ?? (name == nil ? nil : "default"), name: name, limit: limit)
        }
        guard let items = answer["items"]?.arrayValue else {
            throw MeshctlError(.badResponse, "history response from meshd has no \"items\" array")
        }
        switch output {
        case .json: Console.out(answer.prettyJSON() + "\n")
        case .yaml: Console.out(try answer.yamlDocument())
        case .table:
            if items.isEmpty {
                Console.err("No revisions recorded.")
            } else {
                Console.out(Self.table(items))
            }
        }
    }

    /// The REVISION TIME ACTOR OPERATION CHANGES table, and REASON when a change meshd made
    /// on its own (a canary's step) is listed.
    static func table(_ items: [JSONValue]) -> String {
        let reasons = items.contains { $0["reason"]?.stringValue != nil }
        var table = TextTable(header: ["REVISION", "TIME", "ACTOR", "OPERATION", "CHANGES"] + (reasons ? ["REASON"] : []))
        for item in items {
            var operation = item["operation"]?.displayText ?? ""
            if let target = item["rolledBackTo"]?.displayText { operation += " to \(target)" }
            table.append(
                [
                    item["revision"]?.displayText ?? "", item["time"]?.displayText ?? "", item["actor"]?.displayText ?? "",
                    operation, changes(item["changes"]?.arrayValue ?? []),
                ] + (reasons ? [item["reason"]?.stringValue ?? ""] : []))
        }
        return table.render()
    }

    /// `VirtualService default/reviews configured, ... (+N more)`.
    static func changes(_ changes: [JSONValue]) -> String {
        let named = changes.prefix(shownChanges).map { change in
            "\(change["kind"]?.displayText ?? "") \(change["namespace"]?.displayText ?? "")/\(change["name"]?.displayText ?? "") \(change["action"]?.displayText ?? "")"
        }
        let more = changes.count > shownChanges ? " (+\(changes.count - shownChanges) more)" : ""
        return named.joined(separator: ", ") + more
    }
}

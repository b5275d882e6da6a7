import ArgumentParser
import MeshModel

/// `meshctl get KIND [NAME]`: lists or shows config resources.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "List resources of a kind, or show one by name.",
        discussion: "Lists the 'default' namespace unless -n or -A is given, as kubectl does.")

    /// The namespace used when neither `-n` nor `-A` is given, kubectl's default.
    static let defaultNamespace = "default"

    @ParentCommand var root: MeshctlCommand

    @Argument(help: "Resource kind, e.g. VirtualService, destinationrules, se.")
    var kind: String

    @Argument(help: "Resource name; omit to list.")
    var name: String?

    @Option(name: .shortAndLong, help: "Namespace (default: default).")
    var namespace: String?

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "List across all namespaces.")
    var allNamespaces = false

    @Option(name: .shortAndLong, help: "Output format: table, yaml or json.")
    var output: OutputFormat = .table

    @Flag(
        name: .long,
        help:
            "Leave metadata.resourceVersion out, to apply the output to another meshd (a version names a revision of this store only: meshd refuses it elsewhere)."
    )
    var noResourceVersion = false

    func validate() throws {
        if allNamespaces && namespace != nil {
            throw ValidationError("--namespace and --all-namespaces cannot be used together")
        }
        if allNamespaces && name != nil {
            throw ValidationError("a resource cannot be retrieved by name across all namespaces")
        }
    }

    func run() async throws {
        var formatter = OutputFormatter(format: output)
        formatter.showNamespace = allNamespaces
        let namespace = self.namespace ?? Self.defaultNamespace
        if Self.namesSecrets(kind) {
            try await getSecrets(namespace: namespace, formatter: formatter)
            return
        }
        try await AdminClient.withClient(root.global) { client in
            if let name {
                let resource = try await client.get(kind: kind, namespace: namespace, name: name)
                Console.out(try formatter.render(resource: exported(resource)))
                return
            }
            let items = try await client.list(kind: kind, namespace: allNamespaces ? nil : namespace)
            if items.isEmpty && output == .table {
                // On stderr, as kubectl does, so scripts reading stdout see an empty listing.
                Console.err(allNamespaces ? "No resources found." : "No resources found in \(namespace) namespace.")
            }
            Console.out(try formatter.render(list: items.map(exported)))
        }
    }

    /// Whether `kind` names gateway credentials, which have their own API and columns.
    static func namesSecrets(_ kind: String) -> Bool {
        ["secret", "secrets"].contains(kind.lowercased())
    }

    /// `get secrets` / `get secret NAME`: name, type, the certificate's subject, SANs, serial
    /// and expiry (`-o yaml|json`: the same fields); never the key, which meshd does not return.
    private func getSecrets(namespace: String, formatter: OutputFormatter) async throws {
        let items = try await AdminClient.withClient(root.global) { client in
            if let name { return [try await client.getSecret(namespace: namespace, name: name)] }
            return try await client.listSecrets(namespace: allNamespaces ? nil : namespace)
        }
        guard output == .table else {
            Console.out(name != nil ? try formatter.render(resource: items[0]) : try formatter.render(list: items))
            return
        }
        if items.isEmpty {
            Console.err(allNamespaces ? "No resources found." : "No resources found in \(namespace) namespace.")
            return
        }
        var table = TextTable(header: ["NAMESPACE", "NAME", "TYPE", "SUBJECT", "SANS", "SERIAL", "EXPIRES"])
        for item in items {
            table.append([
                item["namespace"]?.stringValue ?? "", item["name"]?.stringValue ?? "", item["type"]?.stringValue ?? "",
                item["subject"]?.stringValue ?? "",
                (item["subjectAltNames"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ","),
                item["serial"]?.stringValue ?? "", item["notAfter"]?.stringValue ?? "",
            ])
        }
        Console.out(table.render())
    }

    /// `resource` as printed: without `metadata.resourceVersion` when `--no-resource-version`.
    func exported(_ resource: JSONValue) -> JSONValue {
        guard noResourceVersion, case .object(var members) = resource, case .object(var metadata)? = members["metadata"] else {
            return resource
        }
        metadata.removeValue(forKey: "resourceVersion")
        members["metadata"] = .object(metadata)
        return .object(members)
    }
}

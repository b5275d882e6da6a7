import ArgumentParser
import MeshModel

/// `meshctl x mesh-config`: the mesh config meshd runs with (`GET /debug/mesh`) — the file,
/// the settings in force, fields meshd does not act on, why a newer file is not in force — and
/// the state of every `jwksUri` it fetches (`GET /debug/jwks`).
struct MeshConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesh-config",
        abstract: "Show the mesh config in force (--mesh-config) and the JWKS meshd fetches.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: "Output format: table, yaml or json.")
    var output: OutputFormat = .table

    func run() async throws {
        let (mesh, jwks) = try await AdminClient.withClient(global) { client in
            (try await client.meshConfig(), try await client.jwks())
        }
        let answer = JSONValue.object(["mesh": mesh, "jwks": jwks])
        switch output {
        case .json: Console.out(try answer.prettyJSON() + "\n")
        case .yaml: Console.out(try answer.yamlDocument())
        case .table: Console.out(Self.render(mesh: mesh, jwks: jwks))
        }
    }

    /// The human form: source, settings, providers, warnings, then the JWKS table.
    static func render(mesh: JSONValue, jwks: JSONValue) -> String {
        let effective = mesh["effective"]
        var text = "Mesh config: \(mesh["path"]?.stringValue ?? "(none: flags and defaults)")"
        if let sha = mesh["sha256"]?.stringValue { text += " (sha256 \(sha.prefix(12)), loaded \(mesh["loadedAt"]?.stringValue ?? "?"))" }
        text += "\nGeneration: \(mesh["generation"]?.displayText ?? "0")\n"
        text += "Root namespace: \(effective?["rootNamespace"]?.stringValue ?? "?")\n"
        text += "Trust domain: \(effective?["trustDomain"]?.stringValue ?? "?")\n"
        if let error = mesh["error"]?.stringValue { text += "NOT IN FORCE: the file's current text was refused: \(error)\n" }
        let notHonoured = (mesh["notHonoured"]?.arrayValue ?? []).compactMap(\.stringValue)
        if !notHonoured.isEmpty { text += "Not yet honoured by meshd: \(notHonoured.joined(separator: ", "))\n" }
        var providers = TextTable(header: ["EXTENSION PROVIDER", "KIND", "SERVICE", "PORT"])
        for provider in effective?["extensionProviders"]?.arrayValue ?? [] {
            providers.append([
                provider["name"]?.stringValue ?? "?", provider["kind"]?.stringValue ?? "?", provider["service"]?.stringValue ?? "-",
                provider["port"]?.displayText ?? "-",
            ])
        }
        text += "\n" + providers.render()
        var keys = TextTable(header: ["JWKS URI", "KEYS", "LAST SUCCESS", "LAST ERROR"])
        for entry in jwks.arrayValue ?? [] {
            let ids = (entry["keyIDs"]?.arrayValue ?? []).compactMap(\.stringValue)
            keys.append([
                entry["uri"]?.stringValue ?? "?",
                entry["hasKeys"]?.boolValue == true ? (ids.isEmpty ? "(no kid)" : ids.joined(separator: ",")) : "none",
                entry["lastSuccess"]?.stringValue ?? "never", entry["lastError"]?.stringValue ?? "-",
            ])
        }
        return text + "\n" + keys.render()
    }
}

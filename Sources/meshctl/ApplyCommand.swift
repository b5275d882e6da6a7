import ArgumentParser
import Foundation
import MeshModel

/// `meshctl apply -f FILE...`: creates or updates resources from YAML or JSON manifests.
struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Create or update resources from YAML or JSON files.",
        discussion: """
            Each file is applied in its own request, all or nothing within the file. FILE may be \
            '-' for stdin or a directory, whose *.yaml, *.yml and *.json files are applied in name order. \
            With --dry-run nothing changes: meshd validates as for a real apply and prints what would \
            happen to each resource, then one line per connected proxy that would receive something \
            (its node id, then the resources); --proxy ID prints that proxy's xDS diff instead.
            """)

    @ParentCommand var root: MeshctlCommand

    @Option(name: .shortAndLong, help: ArgumentHelp("File, directory or '-' (repeatable).", valueName: "file"))
    var filename: [String] = []

    @OptionGroup var preview: DryRunOptions

    func validate() throws {
        guard !filename.isEmpty else { throw ValidationError("must specify at least one -f FILE") }
        try preview.validate(command: "apply")
    }

    func run() async throws {
        let sources = try ManifestSource.load(filename)
        try await AdminClient.withClient(root.global) { client in
            for source in sources {
                if preview.output == .json {
                    let data = preview.dryRun ? try await client.applyDryRun(source, proxy: preview.proxy) : try await client.applyRaw(source)
                    Console.out(try JSONValue.parse(data, what: "apply response").prettyJSON() + "\n")
                } else if preview.dryRun {
                    preview.print(try DryRunAnswer.decode(try await client.applyDryRun(source, proxy: preview.proxy)))
                } else {
                    let response = try await client.apply(source)
                    Console.out(response.results.map { $0.line + "\n" }.joined())
                    response.warnings.forEach(Console.warning)
                }
            }
        }
    }
}

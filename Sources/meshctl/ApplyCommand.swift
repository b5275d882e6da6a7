import ArgumentParser
import Foundation

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

    @Flag(name: .customLong("dry-run"), help: "Validate and show the impact on connected proxies; change nothing.")
    var dryRun = false

    @Option(help: ArgumentHelp("With --dry-run: print the xDS diff of this proxy (its node id).", valueName: "id"))
    var proxy: String?

    @Option(name: .shortAndLong, help: "Output format: json prints meshd's answer as it is.")
    var output: OutputFormat?

    func validate() throws {
        guard !filename.isEmpty else { throw ValidationError("must specify at least one -f FILE") }
        if proxy != nil && !dryRun { throw ValidationError("--proxy needs --dry-run") }
        if let output, output != .json { throw ValidationError("apply prints text, or its answer with -o json") }
    }

    func run() async throws {
        let sources = try ManifestSource.load(filename)
        try await AdminClient.withClient(root.global) { client in
            for source in sources {
                if output == .json {
                    let data = dryRun ? try await client.applyDryRun(source, proxy: proxy) : try await client.applyRaw(source)
                    Console.out(try JSONValue.parse(data, what: "apply response").prettyJSON() + "\n")
                } else if dryRun {
                    let answer = try DryRunAnswer.decode(try await client.applyDryRun(source, proxy: proxy))
                    Console.out(answer.results.map { $0.line + " (dry run)\n" }.joined())
                    answer.warnings.forEach(Console.warning)
                    Console.out(proxy == nil ? answer.impactText : answer.diffText)
                    answer.incomplete.forEach { Console.warning("impact on \($0.proxy) not worked out: \($0.reason)") }
                } else {
                    let response = try await client.apply(source)
                    Console.out(response.results.map { $0.line + "\n" }.joined())
                    response.warnings.forEach(Console.warning)
                }
            }
        }
    }
}

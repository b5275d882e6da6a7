import ArgumentParser

/// `meshctl apply -f FILE...`: creates or updates resources from YAML or JSON manifests.
struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Create or update resources from YAML or JSON files.",
        discussion: """
            Each file is applied in its own request, all or nothing within the file. FILE may be \
            '-' for stdin or a directory, whose *.yaml, *.yml and *.json files are applied in name order.
            """)

    @ParentCommand var root: MeshctlCommand

    @Option(name: .shortAndLong, help: ArgumentHelp("File, directory or '-' (repeatable).", valueName: "file"))
    var filename: [String] = []

    func validate() throws {
        guard !filename.isEmpty else { throw ValidationError("must specify at least one -f FILE") }
    }

    func run() async throws {
        let sources = try ManifestSource.load(filename)
        try await AdminClient.withClient(root.global) { client in
            for source in sources {
                let response = try await client.apply(source)
                Console.out(response.results.map { $0.line + "\n" }.joined())
                response.warnings.forEach(Console.warning)
            }
        }
    }
}

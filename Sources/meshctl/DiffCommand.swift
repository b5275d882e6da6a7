import ArgumentParser

/// `meshctl diff REV [REV2]`: the unified YAML diff of the configuration between two revisions.
struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show how the configuration changed from revision REV to REV2 (default: now).",
        discussion: """
            The configuration at a revision is the one right after that revision committed. The \
            answer is a unified diff, one file per changed resource (a/KIND/NAMESPACE/NAME.yaml), \
            without resourceVersions. Revisions are listed by 'meshctl history'.
            """)

    @ParentCommand var root: MeshctlCommand

    @Argument(help: "The revision to compare from.")
    var from: Int64

    @Argument(help: "The revision to compare to (default: the current one).")
    var to: Int64?

    func validate() throws {
        guard from >= 0, (to ?? 0) >= 0 else { throw ValidationError("revisions are non-negative integers") }
    }

    func run() async throws {
        let answer = try await AdminClient.withClient(root.global) { try await $0.historyDiff(from: from, to: to) }
        guard let diff = answer["diff"]?.stringValue else {
            throw MeshctlError(.badResponse, "diff response from meshd has no \"diff\" string")
        }
        if diff.isEmpty {
            Console.err("No differences between revision \(from) and \(answer["to"]?.displayText ?? "now").")
        }
        Console.out(diff)
    }
}

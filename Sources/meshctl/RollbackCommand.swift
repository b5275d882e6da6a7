import ArgumentParser
import MeshModel

/// `meshctl rollback --to REV`: restores the whole configuration as it was right after REV.
struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Restore the configuration as it was right after a revision, as one new revision.",
        discussion: """
            REV's own change is included: the result is the configuration right after REV \
            committed, registry entries too. All or nothing, validated and pushed like an apply, \
            and printed like one. A revision older than the history kept (--history-retention) \
            is refused. With --dry-run nothing changes: meshd works the rollback out and checks \
            it exactly so, then prints what would happen to each resource and one line per \
            connected proxy that would receive something (--proxy ID: that proxy's xDS diff).
            """)

    @ParentCommand var root: MeshctlCommand

    @Option(name: .customLong("to"), help: ArgumentHelp("The revision to restore (see 'meshctl history').", valueName: "rev"))
    var revision: Int64

    @OptionGroup var preview: DryRunOptions

    func validate() throws {
        guard revision >= 0 else { throw ValidationError("--to takes a non-negative revision") }
        try preview.validate(command: "rollback")
    }

    func run() async throws {
        try await AdminClient.withClient(root.global) { client in
            if preview.output == .json {
                let data = try await client.rollbackRaw(to: revision, dryRun: preview.dryRun, proxy: preview.proxy)
                Console.out(try JSONValue.parse(data, what: "rollback response").prettyJSON() + "\n")
            } else if preview.dryRun {
                preview.print(try DryRunAnswer.decode(try await client.rollbackRaw(to: revision, dryRun: true, proxy: preview.proxy)))
            } else {
                let response = try await client.rollback(to: revision)
                Console.out(response.results.map { $0.line + "\n" }.joined())
                response.warnings.forEach(Console.warning)
            }
        }
    }
}

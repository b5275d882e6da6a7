import ArgumentParser

/// `meshctl rollback --to REV`: restores the whole configuration as it was right after REV.
struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Restore the configuration as it was right after a revision, as one new revision.",
        discussion: """
            REV's own change is included: the result is the configuration right after REV \
            committed, registry entries too. All or nothing, validated and pushed like an apply, \
            and printed like one. A revision older than the history kept (--history-retention) \
            is refused.
            """)

    @ParentCommand var root: MeshctlCommand

    @Option(name: .customLong("to"), help: ArgumentHelp("The revision to restore (see 'meshctl history').", valueName: "rev"))
    var revision: Int64

    func validate() throws {
        guard revision >= 0 else { throw ValidationError("--to takes a non-negative revision") }
    }

    func run() async throws {
        let response = try await AdminClient.withClient(root.global) { try await $0.rollback(to: revision) }
        Console.out(response.results.map { $0.line + "\n" }.joined())
        response.warnings.forEach(Console.warning)
    }
}

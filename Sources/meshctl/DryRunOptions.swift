import ArgumentParser

/// The options of a command that can preview its change (`apply`, `rollback`): `--dry-run`,
/// `--proxy ID` for one proxy's xDS diff, and `-o json` for meshd's answer as it is.
struct DryRunOptions: ParsableArguments {
    @Flag(name: .customLong("dry-run"), help: "Validate and show the impact on connected proxies; change nothing.")
    var dryRun = false

    @Option(help: ArgumentHelp("With --dry-run: print the xDS diff of this proxy (its node id).", valueName: "id"))
    var proxy: String?

    @Option(name: .shortAndLong, help: "Output format: json prints meshd's answer as it is.")
    var output: OutputFormat?

    /// Refuses `--proxy` without `--dry-run` and any output but json; `command` names the caller.
    func validate(command: String) throws {
        if proxy != nil && !dryRun { throw ValidationError("--proxy needs --dry-run") }
        if let output, output != .json { throw ValidationError("\(command) prints text, or its answer with -o json") }
    }

    /// Prints a dry run's answer: results marked `(dry run)`, warnings, then one line per
    /// affected proxy (or, with `--proxy`, its diff) and any proxy whose impact is unknown.
    func print(_ answer: DryRunAnswer) {
        Console.out(answer.results.map { $0.line + " (dry run)\n" }.joined())
        for warning in answer.warnings { Console.warning(warning) }
        Console.out(proxy == nil ? answer.impactText : answer.diffText)
        for item in answer.incomplete { Console.warning("impact on \(item.proxy) not worked out: \(item.reason)") }
    }
}

import ArgumentParser

/// `meshctl`: the command-line client of meshd's admin REST API.
///
/// The root only holds the options every command shares; each subcommand lives in its own file.
/// A thrown `MeshctlError` is printed by ArgumentParser as `Error: <message>` with exit code 1.
@main
struct MeshctlCommand: AsyncParsableCommand {
    /// meshctl's own version, printed by `meshctl version` and `--version`, sent as User-Agent.
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "meshctl",
        abstract: "Control a meshd service-mesh control plane.",
        discussion: """
            Talks to meshd's admin REST API (port 15014 by default). Resource kinds are passed \
            to meshd as typed: VirtualService, virtualservices and vs all work.
            """,
        version: version,
        subcommands: [
            ApplyCommand.self,
            CreateCommand.self,
            GetCommand.self,
            DeleteCommand.self,
            AnalyzeCommand.self,
            HistoryCommand.self,
            DiffCommand.self,
            RollbackCommand.self,
            CanaryCommand.self,
            ProxyStatusCommand.self,
            ProxyConfigCommand.self,
            BootstrapCommand.self,
            TokenCommand.self,
            CACommand.self,
            VersionCommand.self,
            KubeInjectCommand.self,
            ManifestCommand.self,
            InstallCommand.self,
            UninstallCommand.self,
            VerifyInstallCommand.self,
            ExperimentalCommand.self,
        ]
    )

    @OptionGroup var global: GlobalOptions
}

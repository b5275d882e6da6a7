import ArgumentParser

/// `meshctl ca`: the mesh's certificate authority as operators see it.
struct CACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca",
        abstract: "Inspect meshd's certificate authority.",
        subcommands: [CARootCommand.self])
}

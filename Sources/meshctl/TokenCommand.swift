import ArgumentParser

/// `meshctl token`: workload tokens, the credential mesh-agent presents to get its first
/// certificate.
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Manage workload tokens for mesh-agent.",
        subcommands: [TokenCreateCommand.self])
}

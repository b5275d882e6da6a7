import ArgumentParser

/// `meshctl version`: prints the client's version. It does not contact meshd.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print meshctl's version.")

    func run() {
        print("meshctl version \(MeshctlCommand.version)")
    }
}

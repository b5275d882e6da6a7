import ArgumentParser

/// `meshctl ca root`: prints the mesh's root certificate, the trust anchor for mesh-agent's
/// `--root-cert` and for anything that verifies workload certificates.
struct CARootCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "root",
        abstract: "Print the mesh's root CA certificate (PEM).",
        discussion: "E.g. meshctl ca root > root.pem; mesh-agent --root-cert root.pem ...")

    @ParentCommand var root: MeshctlCommand

    func run() async throws {
        let pem = try await AdminClient.withClient(root.global) { try await $0.caRoot() }
        Console.out(pem.hasSuffix("\n") ? pem : pem + "\n")
    }
}

import ArgumentParser

/// `meshctl token create --namespace NS --service-account SA [--ttl 24h]`: mints a token that
/// lets mesh-agent obtain certificates for `spiffe://<trust domain>/ns/NS/sa/SA`.
struct TokenCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a workload token for a service account.",
        discussion: """
            Prints the token alone on stdout, so it can be captured: \
            MESH_AGENT_TOKEN="$(meshctl token create -n default --service-account reviews)". \
            The token only bootstraps the first certificate; mesh-agent renews with the certificate itself.
            """)

    @ParentCommand var root: MeshctlCommand

    @Option(name: .shortAndLong, help: "Namespace of the workload.")
    var namespace: String

    @Option(help: ArgumentHelp("Service account of the workload.", valueName: "name"))
    var serviceAccount: String

    @Option(help: ArgumentHelp("How long the token is valid, e.g. 24h, 90m (meshd's limit: 366 days).", valueName: "duration"))
    var ttl = "24h"

    func validate() throws {
        if namespace.isEmpty { throw ValidationError("--namespace must not be empty") }
        if serviceAccount.isEmpty { throw ValidationError("--service-account must not be empty") }
        if ttl.isEmpty { throw ValidationError("--ttl must not be empty") }
    }

    func run() async throws {
        let token = try await AdminClient.withClient(root.global) { client in
            try await client.createToken(namespace: namespace, serviceAccount: serviceAccount, ttl: ttl)
        }
        Console.out(token + "\n")
    }
}

import ArgumentParser
import Foundation

/// `meshctl create secret tls NAME --cert FILE --key FILE [--ca FILE] [-n NS]`: kubectl's form
/// for a gateway TLS credential (`credentialName`).
struct CreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a resource from command-line arguments.",
        subcommands: [CreateSecretCommand.self])
}

/// `meshctl create secret`.
struct CreateSecretCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret",
        abstract: "Create a secret.",
        subcommands: [CreateSecretTLSCommand.self])
}

/// `meshctl create secret tls`: stores a certificate and key for gateways' TLS servers.
struct CreateSecretTLSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls",
        abstract: "Create or replace a TLS credential for gateways (a Gateway server's credentialName).",
        discussion: """
            meshd checks the pair (PEM, the key matches the certificate, not expired; a warning \
            when it expires within 30 days), keeps the key out of every listing, history and \
            log, and serves it over SDS only to gateways authenticated by their mesh certificate \
            in the same namespace. Creating it again with a new certificate rotates it: gateways \
            get the new version. --ca adds the client CA bundle of MUTUAL servers (NAME-cacert). \
            Needs the admin token, even on loopback.
            """)

    @ParentCommand var root: MeshctlCommand

    @Argument(help: "The credential's name (a Gateway server's tls.credentialName).")
    var name: String

    @Option(help: ArgumentHelp("Certificate chain, PEM, leaf first.", valueName: "file"))
    var cert: String

    @Option(help: ArgumentHelp("The certificate's private key, PEM.", valueName: "file"))
    var key: String

    @Option(help: ArgumentHelp("Client CA bundle, PEM, for MUTUAL servers.", valueName: "file"))
    var ca: String?

    @Option(name: .shortAndLong, help: "Namespace: the gateways' own (default: default).")
    var namespace: String?

    func run() async throws {
        let certificate = try Self.read(cert, what: "--cert")
        let keyPEM = try Self.read(key, what: "--key")
        let caPEM = try ca.map { try Self.read($0, what: "--ca") }
        let namespace = self.namespace ?? GetCommand.defaultNamespace
        let answer = try await AdminClient.withClient(root.global) { client in
            try await client.putSecret(namespace: namespace, name: name, certificate: certificate, key: keyPEM, caCertificates: caPEM)
        }
        for warning in answer.warnings { Console.warning(warning) }
        for result in answer.results {
            Console.out("secret/\(result.name) \(result.action)\n")
        }
    }

    /// A PEM file's text; the error names the flag and file, never the content.
    static func read(_ path: String, what: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("\(what) \(path): cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("\(what) \(path): not PEM text")
        }
        return text
    }
}

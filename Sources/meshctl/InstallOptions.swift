import ArgumentParser
import Foundation
import Kubernetes
import MeshInstall
import MeshModel

/// The options every install command shares: which install (profile, values file, `--set`)
/// and, for those that talk to the cluster, which cluster.
struct InstallOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Profile: default, demo or minimal (docs/install.md).", valueName: "name"))
    var profile = "default"

    @Option(name: .shortAndLong, help: ArgumentHelp("Values file (YAML or JSON), nested or dotted keys.", valueName: "file"))
    var filename: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("KEY=VALUE over the profile and file (repeatable).", valueName: "key=value"))
    var assignments: [String] = []

    @Option(help: ArgumentHelp("kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config).", valueName: "file"))
    var kubeconfig: String?

    /// The values: profile, then file, then `--set` in order.
    func values() throws -> InstallValues {
        do {
            var values = try InstallValues(profile: profile)
            if let filename {
                guard let data = FileManager.default.contents(atPath: filename) else { throw MeshctlError(.input, "\(filename): cannot be read") }
                try values.apply(file: String(decoding: data, as: UTF8.self), source: filename)
            }
            for assignment in assignments { try values.apply(set: assignment) }
            return values
        } catch let error as InstallError {
            throw MeshctlError(.input, error.message)
        }
    }

    /// The install's values and objects (the values file read once).
    func manifest() throws -> (values: InstallValues, objects: [JSONValue]) {
        let values = try values()
        do {
            return (values, try InstallManifest(values: values).objects())
        } catch let error as InstallError {
            throw MeshctlError(.input, error.message)
        }
    }

    /// Runs `body` with a client of the cluster, closing it afterwards.
    func withCluster<T>(_ body: (KubeAPIClient) async throws -> T) async throws -> T {
        let path =
            kubeconfig ?? ProcessInfo.processInfo.environment["KUBECONFIG"].flatMap { $0.split(separator: ":").first.map(String.init) }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".kube/config")
        let api: KubeAPIClient
        do {
            api = try KubeAPIClient(config: try KubeClientConfig.kubeconfig(path: path))
        } catch {
            throw MeshctlError(.input, "kubeconfig \(path): \(error)")
        }
        do {
            let result = try await body(api)
            await api.shutdown()
            return result
        } catch {
            await api.shutdown()
            throw error
        }
    }
}

extension MeshctlError {
    /// A refusal (or no answer) from the Kubernetes API server, for the install commands.
    init(_ error: KubeAPIError) {
        self.init(.server(status: UInt(max(error.status, 0)), apiCode: error.reason), error.message)
    }
}

/// `meshctl manifest`: the objects of an install, printed.
struct ManifestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifest", abstract: "Print the objects of a meshd install.", subcommands: [ManifestGenerateCommand.self])
}

/// `meshctl manifest generate`: every object `meshctl install` would apply, as YAML.
struct ManifestGenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Print every object of an install, in apply order.",
        discussion: "Values: " + InstallValues.keys.map { "\($0.name) (\($0.type.rawValue))" }.joined(separator: ", ") + ".")

    @OptionGroup var install: InstallOptions

    func run() throws {
        Console.out(try JSONValue.yamlStream(try install.manifest().objects))
    }
}

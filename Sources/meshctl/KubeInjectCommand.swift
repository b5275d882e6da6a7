import ArgumentParser
import Foundation
import MeshModel
import SidecarInjection

/// `meshctl kube-inject -f FILE`: the sidecar injection meshd's webhook performs, offline, as
/// `istioctl kube-inject` — for clusters without the webhook, for review, for GitOps.
struct KubeInjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kube-inject",
        abstract: "Add the Envoy sidecar to the pods and pod templates in Kubernetes manifests.",
        discussion: """
            Prints the manifests with every Pod and every pod template (Deployment, StatefulSet, \
            DaemonSet, ReplicaSet, ReplicationController, Job, CronJob) injected as meshd's \
            webhook would inject the pods they create; other documents pass unchanged. Pods \
            meshd would leave alone (host network, already injected, sidecar.istio.io/inject: \
            "false", a system namespace) are printed unchanged and said so on stderr, as are \
            annotations the sidecar cannot honour. See docs/injection.md.
            """)

    @Option(name: .shortAndLong, help: ArgumentHelp("Manifest file, or - for stdin.", valueName: "file"))
    var filename: String

    @Option(
        name: .customLong("injection-values"),
        help: ArgumentHelp("The injector's values (YAML or JSON), as meshd's --injection-values.", valueName: "file"))
    var injectionValues: String?

    @Option(help: ArgumentHelp("meshd's namespace, which names its addresses (default mesh-system).", valueName: "namespace"))
    var systemNamespace: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Output format: yaml or json.", valueName: "yaml|json"))
    var output: OutputFormat = .yaml

    func run() throws {
        let values = try loadValues()
        let text = try readInput()
        let documents: [JSONValue]
        do {
            documents = try ConfigDocumentParser.plainDocuments(text)
        } catch {
            throw MeshctlError(.input, "\(filename): \(error.message)")
        }
        let results: [SidecarInjector.DocumentResult]
        do {
            results = try SidecarInjector(values: values).inject(documents: documents)
        } catch {
            throw MeshctlError(.input, error.message)
        }
        for note in results.flatMap(\.notes) { Console.err("kube-inject: \(note)") }
        let injected = results.map(\.document)
        switch output {
        case .json:
            Console.out(injected.count == 1 ? injected[0].prettyJSON() : JSONValue.array(injected).prettyJSON())
        default:
            Console.out(try JSONValue.yamlStream(injected))
        }
    }

    private func loadValues() throws -> InjectionValues {
        guard let injectionValues else { return InjectionValues(systemNamespace: systemNamespace ?? "mesh-system") }
        guard let data = FileManager.default.contents(atPath: injectionValues) else {
            throw MeshctlError(.input, "\(injectionValues): cannot be read")
        }
        do {
            return try InjectionValues.parse(String(decoding: data, as: UTF8.self), source: injectionValues, systemNamespace: systemNamespace)
        } catch {
            throw MeshctlError(.input, error.message)
        }
    }

    private func readInput() throws -> String {
        if filename == "-" { return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) }
        guard let data = FileManager.default.contents(atPath: filename) else {
            throw MeshctlError(.input, "\(filename): no such file or cannot be read")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

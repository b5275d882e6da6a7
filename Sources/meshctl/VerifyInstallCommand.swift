import ArgumentParser
import Foundation
import Kubernetes
import MeshInstall
import MeshModel

/// `meshctl verify-install`: whether the cluster holds a working install — every generated
/// object present, meshd rolled out and ready, both webhook configurations trusting meshd's CA,
/// the root ConfigMap published, and (given a namespace with injection enabled) a pod created
/// there in dry run coming back with its sidecar.
struct VerifyInstallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-install", abstract: "Check that meshd is installed and working on the cluster.")

    @OptionGroup var install: InstallOptions

    @Option(help: ArgumentHelp("A namespace labelled istio-injection=enabled to check injection in (dry run).", valueName: "namespace"))
    var injectionNamespace: String?

    func run() async throws {
        let (values, objects) = try install.manifest()
        let namespace = values.string("namespace")
        var failures: [String] = []
        try await install.withCluster { api in
            for object in objects {
                let path = try InstallObjectPath(object)
                do {
                    _ = try await api.request(.GET, path.item, body: nil, what: "read \(path)")
                } catch let error as KubeAPIError {
                    failures.append("\(path): \(error.status == 404 ? "missing" : error.message)")
                }
            }
            Console.out("\(objects.count - failures.count) of \(objects.count) objects present\n")
            if let deployment = try? await get(api, "/apis/apps/v1/namespaces/\(namespace)/deployments/meshd") {
                let state = DeploymentRollout.state(deployment)
                Console.out("meshd: \(state.detail)\n")
                if !state.done { failures.append("meshd is not rolled out: \(state.detail)") }
            }
            for (resource, name) in [
                ("validatingwebhookconfigurations", "meshd-validator"), ("mutatingwebhookconfigurations", "meshd-sidecar-injector"),
            ] {
                guard let configuration = try? await get(api, "/apis/admissionregistration.k8s.io/v1/\(resource)/\(name)") else { continue }
                let hooks = configuration["webhooks"]?.arrayValue ?? []
                let trusted = hooks.allSatisfy { ($0["clientConfig"]?["caBundle"]?.stringValue ?? "").isEmpty == false }
                Console.out("\(name): \(trusted ? "trusts meshd's CA" : "no caBundle yet (meshd patches it once it leads)")\n")
                if !trusted { failures.append("\(name) has no caBundle") }
            }
            if (try? await get(api, "/api/v1/namespaces/\(namespace)/configmaps/istio-ca-root-cert")) == nil {
                failures.append("ConfigMap \(namespace)/istio-ca-root-cert is missing (meshd publishes it once it leads)")
            } else {
                Console.out("istio-ca-root-cert: published\n")
            }
            if let injectionNamespace {
                switch try await injects(api, namespace: injectionNamespace) {
                case nil: Console.out("injection in \(injectionNamespace): works\n")
                case let problem?: failures.append("injection in \(injectionNamespace): \(problem)")
                }
            }
        }
        guard failures.isEmpty else {
            throw MeshctlError(.input, "the install is not complete:\n  " + failures.joined(separator: "\n  "))
        }
        Console.out("meshd is installed and working\n")
    }

    private func get(_ api: KubeAPIClient, _ path: String) async throws -> JSONValue {
        try JSONValue.parse(json: try await api.request(.GET, path, body: nil, what: "read \(path)").body)
    }

    /// Creates a pod in dry run (nothing is stored) and looks for the sidecar; nil when found.
    private func injects(_ api: KubeAPIClient, namespace: String) async throws -> String? {
        let pod: JSONValue = [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": ["generateName": "meshctl-verify-", "namespace": .string(namespace), "labels": ["app": "meshctl-verify"]],
            "spec": ["containers": [["name": "app", "image": "registry.k8s.io/pause:3.10"]]],
        ]
        do {
            let response = try await api.request(
                .POST, "/api/v1/namespaces/\(namespace)/pods", query: [("dryRun", "All")], body: pod.canonicalJSON(),
                what: "create a pod in dry run")
            let created = try JSONValue.parse(json: response.body)
            let names = created["spec"]?["containers"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            return names.contains("istio-proxy") ? nil : "a pod created there has no istio-proxy container (is the namespace labelled?)"
        } catch let error as KubeAPIError {
            return error.message
        }
    }
}

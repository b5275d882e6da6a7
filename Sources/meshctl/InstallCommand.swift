import ArgumentParser
import Foundation
import Kubernetes
import MeshCommon
import MeshInstall
import MeshModel

/// `meshctl install`: the objects of `manifest generate`, applied through the API server with
/// server-side apply (field manager `meshctl-install`, conflicts forced: the install owns what
/// it generates), then a wait until meshd's Deployment has rolled out. Running it again changes
/// nothing; running a newer meshctl is the upgrade (a rolling update of meshd's replicas).
struct InstallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Install or upgrade meshd on the cluster of the kubeconfig.",
        discussion: "The same objects 'meshctl manifest generate' prints; see docs/install.md.")

    @OptionGroup var install: InstallOptions

    @Option(help: ArgumentHelp("Wait for meshd's Deployment to be rolled out and ready.", valueName: "true|false"))
    var wait = true

    @Option(help: ArgumentHelp("How long to wait, e.g. 5m, 90s.", valueName: "duration"))
    var timeout = "5m"

    func run() async throws {
        let (values, objects) = try install.manifest()
        guard let limit = DurationSyntax.parse(timeout) else {
            throw MeshctlError(.input, "--timeout \(timeout): expected a duration like 5m or 90s")
        }
        try await install.withCluster { api in
            var changed = 0
            for object in objects where try await Self.apply(object, api: api) {
                changed += 1
            }
            Console.err("applied \(objects.count) objects (\(changed) changed)")
            guard wait else { return }
            let namespace = values.string("namespace")
            var deployments = ["meshd"]
            if values.bool("gateways.ingress.enabled") { deployments.append("istio-ingressgateway") }
            if values.bool("gateways.egress.enabled") { deployments.append("istio-egressgateway") }
            for name in deployments {
                try await DeploymentRollout.wait(api: api, namespace: namespace, name: name, limit: limit)
                Console.err("deployment \(namespace)/\(name) is ready")
            }
        }
    }

    /// Server-side applies `object`; whether it changed (a new resourceVersion).
    static func apply(_ object: JSONValue, api: KubeAPIClient) async throws -> Bool {
        let path = try InstallObjectPath(object)
        let before = try? await api.request(.GET, path.item, body: nil, what: "read \(path)")
        let response: KubeAPIClient.Response
        do {
            response = try await api.request(
                .PATCH, path.item, query: [("fieldManager", InstallManifest.fieldManager), ("force", "true")],
                body: object.canonicalJSON(), contentType: "application/apply-patch+yaml", what: "apply \(path)")
        } catch let error as KubeAPIError {
            throw MeshctlError(error)
        }
        let version = { (body: String?) in body.flatMap { try? JSONValue.parse(json: $0) }?["metadata"]?["resourceVersion"]?.stringValue }
        return version(before?.body) != version(response.body)
    }
}

/// `meshctl uninstall`: deletes what `install` applied, newest first. The CRDs — and with them
/// every Istio resource in the cluster — stay unless `--purge`, as istioctl's uninstall.
struct UninstallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uninstall", abstract: "Remove what 'meshctl install' applied (the CRDs too with --purge).")

    @OptionGroup var install: InstallOptions

    @Flag(help: "Also delete the Istio CRDs, which deletes every Istio resource in the cluster.")
    var purge = false

    func run() async throws {
        let objects = try install.manifest().objects.reversed().filter { purge || $0["kind"]?.stringValue != "CustomResourceDefinition" }
        try await install.withCluster { api in
            var deleted = 0
            for object in objects {
                let path = try InstallObjectPath(object)
                do {
                    _ = try await api.request(.DELETE, path.item, body: nil, what: "delete \(path)")
                    deleted += 1
                } catch let error as KubeAPIError {
                    guard error.status == 404 else {
                        throw MeshctlError(error)
                    }
                }
            }
            Console.err("deleted \(deleted) objects\(purge ? "" : " (the Istio CRDs are kept: --purge deletes them)")")
        }
    }
}

/// Waiting for a Deployment as `kubectl rollout status` does: the controller has seen the
/// latest spec and every replica is updated and ready.
enum DeploymentRollout {
    /// Whether the Deployment's status says it has rolled out; the reason when not.
    static func state(_ deployment: JSONValue) -> (done: Bool, detail: String) {
        let generation = deployment["metadata"]?["generation"]?.intValue ?? 0
        let observed = deployment["status"]?["observedGeneration"]?.intValue ?? 0
        let wanted = deployment["spec"]?["replicas"]?.intValue ?? 1
        let updated = deployment["status"]?["updatedReplicas"]?.intValue ?? 0
        let ready = deployment["status"]?["readyReplicas"]?.intValue ?? 0
        let total = deployment["status"]?["replicas"]?.intValue ?? 0
        if observed < generation { return (false, "waiting for the controller to see generation \(generation)") }
        if updated < wanted { return (false, "\(updated) of \(wanted) replicas updated") }
        if total > updated { return (false, "\(total - updated) old replicas still running") }
        if ready < wanted { return (false, "\(ready) of \(wanted) replicas ready") }
        return (true, "\(ready) of \(wanted) replicas ready")
    }

    static func wait(api: KubeAPIClient, namespace: String, name: String, limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        var detail = "not read yet"
        while ContinuousClock.now < deadline {
            if let response = try? await api.request(
                .GET, "/apis/apps/v1/namespaces/\(namespace)/deployments/\(name)", body: nil, what: "read deployment"),
                let deployment = try? JSONValue.parse(json: response.body)
            {
                let state = state(deployment)
                if state.done { return }
                detail = state.detail
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw MeshctlError(.unreachable, "deployment \(namespace)/\(name) did not become ready within \(limit): \(detail)")
    }
}

import Kubernetes
import Logging
import MeshModel

/// Keeps the ConfigMap `istio-ca-root-cert` (key `root-cert.pem`: the mesh root) in every
/// namespace, as istiod's namespace controller does: injected sidecars mount it as the trust
/// anchor for meshd's serving certificate before they hold a certificate of their own.
///
/// Singleton work, level-triggered: each round lists the namespaces and the existing ConfigMaps
/// (two requests, whatever the cluster's size) and writes only what is missing or different,
/// so an edited or deleted ConfigMap comes back within one interval.
public struct RootCertPublisher: Sendable {
    /// The ConfigMap's name and key: Istio's, which injected pods and Istio's tools expect.
    public static let name = "istio-ca-root-cert"
    public static let key = "root-cert.pem"
    /// Namespaces that get none: no sidecar ever runs there.
    public static let skipped: Set<String> = ["kube-system", "kube-public", "kube-node-lease"]

    let api: KubeAPIClient
    let rootPEM: String
    let logger: Logger

    /// A publisher of `rootPEM`.
    public init(api: KubeAPIClient, rootPEM: String, logger: Logger) {
        self.api = api
        self.rootPEM = rootPEM
        self.logger = logger
    }

    /// Publishes now and every `interval` until cancelled.
    public func run(interval: Duration = .seconds(10)) async {
        var failing = false
        while !Task.isCancelled {
            do {
                let written = try await publishOnce()
                if written > 0 { logger.info("root certificate ConfigMaps written", metadata: ["count": "\(written)", "name": "\(Self.name)"]) }
                failing = false
            } catch {
                if !failing { logger.warning("cannot publish the root certificate ConfigMaps; retrying", metadata: ["error": "\(error)"]) }
                failing = true
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// One round; how many ConfigMaps it created or replaced.
    func publishOnce() async throws(KubeAPIError) -> Int {
        let namespaces = try await api.listAll(KubeCollection(path: "/api/v1/namespaces", name: "namespaces"))
        let existing = try await api.listAll(
            KubeCollection(path: "/api/v1/configmaps", fieldSelector: "metadata.name=\(Self.name)", name: "configmaps \(Self.name)"))
        var current: [String: KubeObject] = [:]
        for object in existing { current[object.body["metadata"]?["namespace"]?.stringValue ?? ""] = object }
        var written = 0
        for namespace in namespaces {
            guard let ns = namespace.body["metadata"]?["name"]?.stringValue, !Self.skipped.contains(ns),
                namespace.body["status"]?["phase"]?.stringValue != "Terminating"
            else { continue }
            let have = current[ns]
            if have?.body["data"]?[Self.key]?.stringValue == rootPEM { continue }
            let collection = "/api/v1/namespaces/\(ns)/configmaps"
            do {
                if let have {
                    _ = try await api.request(
                        .PUT, "\(collection)/\(Self.name)", body: configMap(ns, resourceVersion: have.resourceVersion).canonicalJSON(),
                        what: "update ConfigMap \(ns)/\(Self.name)")
                } else {
                    _ = try await api.request(.POST, collection, body: configMap(ns).canonicalJSON(), what: "create ConfigMap \(ns)/\(Self.name)")
                }
                written += 1
            } catch {
                // A namespace deleted meanwhile (404), or another writer first (409): next round.
                guard error.status == 404 || error.status == 409 else { throw error }
            }
        }
        return written
    }

    private func configMap(_ namespace: String, resourceVersion: String? = nil) -> JSONValue {
        var metadata: [String: JSONValue] = [
            "name": .string(Self.name), "namespace": .string(namespace),
            "labels": .object(["app.kubernetes.io/managed-by": "meshd", "istio.io/config": "true"]),
        ]
        if let resourceVersion { metadata["resourceVersion"] = .string(resourceVersion) }
        return .object(["apiVersion": "v1", "kind": "ConfigMap", "metadata": .object(metadata), "data": .object([Self.key: .string(rootPEM)])])
    }
}

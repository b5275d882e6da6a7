import Foundation
import Kubernetes
import Logging
import MeshModel

/// Keeps meshd's webhook configurations (the ValidatingWebhookConfiguration `meshd-validator`,
/// the MutatingWebhookConfiguration `meshd-sidecar-injector`) trusting meshd: every
/// webhook's `clientConfig.caBundle` is the mesh root (which issued the webhook's serving
/// certificate) and its `failurePolicy` is `Fail`. The configuration ships with `Ignore` and no
/// bundle, so applies work before meshd runs; once meshd has patched it, an object meshd would
/// refuse cannot be stored while meshd is away — as istiod's webhook controller does it.
///
/// Singleton work: the elected replica runs it, again every interval (an install that
/// re-applies the manifest resets the bundle).
public struct WebhookConfigPatcher: Sendable {
    let api: KubeAPIClient
    /// The configuration's name.
    public let name: String
    /// Its resource: `validatingwebhookconfigurations` or `mutatingwebhookconfigurations`.
    public let resource: String
    /// The PEM bundle to trust: the mesh root.
    let caBundle: String
    let logger: Logger

    /// A patcher of the configuration `name` of kind `resource`.
    public init(
        api: KubeAPIClient, name: String, resource: String = "validatingwebhookconfigurations", caBundlePEM: String, logger: Logger
    ) {
        self.api = api
        self.name = name
        self.resource = resource
        self.caBundle = Data(caBundlePEM.utf8).base64EncodedString()
        self.logger = logger
    }

    /// Patches now and every `interval` until cancelled.
    public func run(interval: Duration = .seconds(30)) async {
        var missingLogged = false
        while !Task.isCancelled {
            do {
                if try await patchOnce() { logger.notice("webhook configuration now trusts meshd's CA", metadata: ["name": "\(name)"]) }
                missingLogged = false
            } catch  where error.status == 404 {
                if !missingLogged {
                    logger.info(
                        "no webhook configuration to patch; its webhook is not called", metadata: ["name": "\(name)", "resource": "\(resource)"])
                    missingLogged = true
                }
            } catch {
                logger.warning("cannot patch the webhook configuration; retrying", metadata: ["name": "\(name)", "error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// One read-modify-write (the read's `resourceVersion` as precondition); whether it changed
    /// anything.
    func patchOnce() async throws(KubeAPIError) -> Bool {
        let path = "/apis/admissionregistration.k8s.io/v1/\(resource)/\(name)"
        let response = try await api.request(.GET, path, body: nil, what: "read webhook configuration \(name)")
        guard let current = try? JSONValue.parse(json: response.body) else {
            throw KubeAPIError(status: 0, message: "webhook configuration \(name) is not JSON")
        }
        guard let patched = Self.patched(current, caBundle: caBundle) else { return false }
        _ = try await api.request(.PUT, path, body: patched.canonicalJSON(), what: "update webhook configuration \(name)")
        return true
    }

    /// `configuration` with every webhook's caBundle and failure policy set; nil when they are already.
    static func patched(_ configuration: JSONValue, caBundle: String) -> JSONValue? {
        guard case .object(var fields) = configuration, case .array(let webhooks)? = fields["webhooks"] else { return nil }
        var changed = false
        let updated: [JSONValue] = webhooks.map { webhook in
            guard case .object(var hook) = webhook else { return webhook }
            var client: [String: JSONValue] = if case .object(let c)? = hook["clientConfig"] { c } else { [:] }
            if client["caBundle"]?.stringValue != caBundle {
                client["caBundle"] = .string(caBundle)
                changed = true
            }
            hook["clientConfig"] = .object(client)
            if hook["failurePolicy"]?.stringValue != "Fail" {
                hook["failurePolicy"] = "Fail"
                changed = true
            }
            return .object(hook)
        }
        guard changed else { return nil }
        fields["webhooks"] = .array(updated)
        return .object(fields)
    }
}

import Foundation
import Kubernetes
import MeshModel
import Storage

/// Turns the PEM parts of a Kubernetes Secret (certificate chain, key, optional CA bundle) into
/// the public half meshd's `Secret` resource shows and the material gateways are sent; throws
/// when the parts are not a usable credential (meshd's own checks, `GatewayCredential`).
public typealias CredentialDecoder =
    @Sendable (_ certificatePEM: String, _ keyPEM: String, _ caPEM: String?) throws -> (spec: TLSSecret, material: CredentialMaterial)

/// Gateway credentials from Kubernetes Secrets, read as istiod reads them: `kubernetes.io/tls`
/// (`tls.crt`, `tls.key`, optional `ca.crt`) or Istio's generic form (`cert`, `key`, optional
/// `cacert`), of any type. Each one a Gateway names (`credentialName`, `credentialNames`, in the
/// Gateway's namespace) becomes a `Secret` resource (the public half and the material's digest,
/// recorded in the ledger like any resource); the material stays in memory, and the push loop
/// reads it through `CredentialVault` by digest. Gateways get only their namespace's, by the
/// rule every meshd credential follows. Secrets no Gateway names (a cluster's other
/// certificates, their renewals) are not recorded.
extension KubernetesConfigStore: CredentialVault {
    /// Every namespace's Secrets, but those that can never be credentials (service-account
    /// tokens, Helm releases: the bulk of a cluster's Secrets).
    static let secretsCollection = KubeCollection(
        path: "/api/v1/secrets", fieldSelector: "type!=kubernetes.io/service-account-token,type!=helm.sh/release.v1",
        name: "secrets")

    /// The credential in a Secret's `data` (base64), nil when it holds none (not a TLS-shaped
    /// Secret: left alone, as istiod leaves it).
    static func credentialParts(_ body: JSONValue) -> (certificate: String, key: String, ca: String?)? {
        func text(_ field: String) -> String? {
            guard let encoded = body["data"]?[field]?.stringValue, let bytes = Data(base64Encoded: encoded) else { return nil }
            return String(data: bytes, encoding: .utf8)
        }
        if let certificate = text("tls.crt"), let key = text("tls.key") { return (certificate, key, text("ca.crt")) }
        if let certificate = text("cert"), let key = text("key") { return (certificate, key, text("cacert")) }
        return nil
    }

    func applySecrets(_ effects: [ListWatchMachine.Effect], decode: CredentialDecoder) {
        var refused: [(ConfigKey, String)] = []
        state.withLock { state in
            for effect in effects {
                switch effect {
                case .upsert(let object):
                    let key = ConfigKey(kind: .secret, namespace: object.key.namespace, name: object.key.name)
                    guard let parts = Self.credentialParts(object.body) else {
                        state.credentials.removeValue(forKey: key)
                        state.materials.removeValue(forKey: key)
                        continue
                    }
                    do {
                        let (spec, material) = try decode(parts.certificate, parts.key, parts.ca)
                        var decoded = IstioObject(resourceVersion: object.resourceVersion, manager: IstioObjectCodec.manager(object.body))
                        decoded.resource = spec.resource(namespace: key.namespace, name: key.name)
                        state.credentials[key] = decoded
                        let previous = (state.materials[key] ?? []).filter { $0.digest != material.digest }.prefix(1)
                        state.materials[key] = [material] + previous
                        state.problems.removeValue(forKey: key)
                    } catch {
                        // An unusable credential is not served: gateways keep the last usable
                        // version of it (none, for a new one), as Envoy keeps a secret it
                        // cannot load. Said once.
                        if state.problems.updateValue("\(error)", forKey: key) != "\(error)" { refused.append((key, "\(error)")) }
                    }
                case .delete(let object):
                    let key = ConfigKey(kind: .secret, namespace: object.key.namespace, name: object.key.name)
                    state.credentials.removeValue(forKey: key)
                    state.materials.removeValue(forKey: key)
                    state.problems.removeValue(forKey: key)
                case .synced:
                    state.synced.insert(Self.secretsCollection.name)
                case .send, .wait:
                    break
                }
            }
            Self.selectCredentials(&state)
        }
        for (key, problem) in refused {
            logger.warning("Kubernetes Secret is not a usable gateway credential; not served", metadata: ["secret": "\(key)", "error": "\(problem)"])
        }
        wakeRecorder.publish(0)
    }

    /// Puts the credentials Gateways name among the objects the ledger records, and takes the
    /// others out.
    static func selectCredentials(_ state: inout State) {
        var named: Set<ConfigKey> = []
        for (key, object) in state.objects where key.kind == .gateway {
            guard case .array(let servers)? = object.resource?.spec["servers"] else { continue }
            for server in servers {
                let tls = server["tls"]
                var names = tls?["credentialName"]?.stringValue.map { [$0] } ?? []
                if case .array(let more)? = tls?["credentialNames"] { names += more.compactMap(\.stringValue) }
                for name in names where !name.isEmpty { named.insert(ConfigKey(kind: .secret, namespace: key.namespace, name: name)) }
            }
        }
        for key in state.objects.keys where key.kind == .secret && (!named.contains(key) || state.credentials[key] == nil) {
            state.objects.removeValue(forKey: key)
        }
        for key in named { if let credential = state.credentials[key] { state.objects[key] = credential } }
    }

    /// Credentials are written with kubectl: meshd's secrets API refuses them with this store.
    public func storeMaterial(_ material: CredentialMaterial, namespace: String, name: String) async throws(StorageError) {
        throw StorageError(
            code: .refused,
            message:
                "Secret \(namespace)/\(name): with --store kubernetes, gateway credentials are Kubernetes Secrets: kubectl create secret tls \(name) -n \(namespace) --cert=FILE --key=FILE"
        )
    }

    /// The material of the Secret as the API server holds it now, when its digest is `digest`
    /// (the recorded resource names the digest it was recorded with).
    public func material(namespace: String, name: String, digest: String) async throws(StorageError) -> CredentialMaterial? {
        state.withLock { state in
            state.materials[ConfigKey(kind: .secret, namespace: namespace, name: name)]?.first { $0.digest == digest }
        }
    }

    /// Nothing to prune: the API server holds the Secrets.
    public func pruneMaterial(namespace: String, name: String, keeping digest: String?) async throws(StorageError) {}
}

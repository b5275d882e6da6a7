import CertificateAuthority
import Foundation
import Hummingbird
import MeshCommon
import MeshModel
import Storage
import Translator

/// `/api/v1/secrets...`: gateway TLS credentials (`credentialName`), always behind the admin
/// token (`AdminAccessPolicy`).
///
/// - `PUT /api/v1/secrets/NS/NAME` with `{"type": "kubernetes.io/tls", "certificate": PEM,
///   "key": PEM, "caCertificates": PEM}` (`type` and `caCertificates` optional) creates or
///   replaces one: checked (`GatewayCredential.check`), its material vaulted, its public half
///   written as a `Secret` resource (one revision: history and pushes as for any change), the
///   name's older material pruned. Storing the same credential again changes nothing.
/// - `GET /api/v1/secrets[?namespace=NS]`, `GET /api/v1/secrets/NS/NAME`: what may be shown.
/// - `DELETE /api/v1/secrets/NS/NAME`: deletes it and its material; the answer warns about
///   Gateways that still name it (gateways keep the copy they hold).
///
/// No answer, error or log line carries key material: errors about the body name the field,
/// never its content.
struct SecretController: Sendable {
    let dependencies: AdminDependencies

    /// The fields of a `PUT` body.
    static let fields: Set<String> = ["type", "certificate", "key", "caCertificates"]

    func register(on router: Router<AdminRequestContext>) {
        let writer = ConfigWriter(dependencies)
        let store = dependencies.store
        let vault = dependencies.vault
        let logger = dependencies.logger

        router.get("/api/v1/secrets") { request, _ -> Response in
            let namespace = try request.query(allowing: ["namespace"])["namespace"].map(String.init)
            let items = try await store.list(kind: .secret, namespace: namespace)
            return JSONResponse.make(.object(["items": .array(items.compactMap(Self.summary))]))
        }

        router.get("/api/v1/secrets/:namespace/:name") { _, context -> Response in
            let key = try Self.key(context)
            guard let stored = try await store.get(key), let summary = Self.summary(stored) else { throw AdminError.notFound("\(key)") }
            return JSONResponse.make(summary)
        }

        router.put("/api/v1/secrets/:namespace/:name") { request, context -> Response in
            guard let vault else { throw Self.noVault }
            var request = request
            let key = try Self.key(context)
            let credential = try Self.credential(try await request.text(), key: key)
            let material = credential.material
            let spec = credential.spec
            // Material first: a resource never names material the vault lacks.
            try await vault.storeMaterial(material, namespace: key.namespace, name: key.name)
            let answer = try await writer.applySecret(
                spec.resource(namespace: key.namespace, name: key.name), material: material,
                warnings: credential.warnings.map { "\(key): \($0)" }, actor: context.actor)
            try await vault.pruneMaterial(namespace: key.namespace, name: key.name, keeping: credential.digest)
            logger.notice(
                "gateway credential stored",
                metadata: [
                    "secret": "\(key.namespace)/\(key.name)", "serial": "\(credential.summary.serial)", "actor": "\(context.actor)",
                ])
            return JSONResponse.make(answer)
        }

        router.delete("/api/v1/secrets/:namespace/:name") { _, context -> Response in
            let key = try Self.key(context)
            // Deleting the credential changes no Gateway, so what names it now still will.
            let warnings = try await Self.danglingReferences(to: key, store: store)
            let answer = try await writer.deleteSecret(key, warnings: warnings, actor: context.actor)
            try await vault?.pruneMaterial(namespace: key.namespace, name: key.name, keeping: nil)
            logger.notice("gateway credential deleted", metadata: ["secret": "\(key.namespace)/\(key.name)", "actor": "\(context.actor)"])
            return JSONResponse.make(answer)
        }
    }

    static let noVault = AdminError(
        code: "unavailable", status: .serviceUnavailable, message: "this meshd has no credential vault; secrets cannot be stored")

    static func key(_ context: AdminRequestContext) throws -> ConfigKey {
        let namespace = context.parameters.get("namespace") ?? "default"
        let name = context.parameters.get("name") ?? ""
        let key = ConfigKey(kind: .secret, namespace: namespace, name: name)
        guard NameRules.isDNS1123Subdomain(name) else {
            throw AdminError(
                code: "invalid", status: .unprocessableContent, message: NameRules.subdomainRule, resource: "\(key)", field: "metadata.name")
        }
        guard NameRules.isDNS1123Label(namespace) else {
            throw AdminError(
                code: "invalid", status: .unprocessableContent, message: NameRules.labelRule, resource: "\(key)", field: "metadata.namespace")
        }
        // `NAME-cacert` is the SDS name of NAME's client CA bundle.
        guard !name.hasSuffix("-cacert") else {
            throw AdminError(
                code: "invalid", status: .unprocessableContent,
                message:
                    "a name ending in -cacert is the client CA half of another credential; give the CA with --ca (caCertificates) to that credential instead",
                resource: "\(key)", field: "metadata.name")
        }
        return key
    }

    /// The checked credential of a `PUT` body. Errors name fields, never their content: a
    /// JSON syntax error's usual excerpt of the input could quote the key.
    static func credential(_ text: String, key: ConfigKey) throws -> GatewayCredential {
        func invalid(_ message: String, field: String) -> AdminError {
            AdminError(code: "invalid", status: .unprocessableContent, message: message, resource: "\(key)", field: field)
        }
        guard let body = try? JSONValue.parse(json: text), let members = body.objectValue else {
            throw AdminError(code: "malformed", status: .badRequest, message: "the body is not a JSON object", resource: "\(key)")
        }
        if let unknown = members.keys.sorted().first(where: { !fields.contains($0) }) {
            throw invalid("unknown field; a secret has \(fields.sorted().joined(separator: ", "))", field: unknown)
        }
        if let type = members["type"], type.stringValue != TLSSecret.tlsType {
            throw invalid("only type \(TLSSecret.tlsType) is supported", field: "type")
        }
        func pem(_ field: String, required: Bool) throws -> String? {
            guard let value = members[field], value != .null else {
                if required { throw invalid("required", field: field) }
                return nil
            }
            guard let text = value.stringValue, !text.isEmpty else { throw invalid("expected PEM text", field: field) }
            return text
        }
        let certificate = try pem("certificate", required: true) ?? ""
        let keyPEM = try pem("key", required: true) ?? ""
        let ca = try pem("caCertificates", required: false)
        do {
            return try GatewayCredential.check(certificatePEM: certificate, keyPEM: keyPEM, caPEM: ca)
        } catch {
            let field =
                error.message.hasPrefix("the key") ? "key" : error.message.hasPrefix("the CA bundle") ? "caCertificates" : "certificate"
            throw invalid(error.message, field: field)
        }
    }

    /// What may be shown of a stored credential; nil for a record that does not read as one.
    static func summary(_ stored: StoredConfig) -> JSONValue? {
        guard case .secret(let spec)? = try? ConfigValidator.validate(stored.resource) else { return nil }
        return .object([
            "namespace": .string(stored.key.namespace),
            "name": .string(stored.key.name),
            "type": .string(TLSSecret.tlsType),
            "subject": .string(spec.subject),
            "subjectAltNames": .array(spec.subjectAltNames.map(JSONValue.string)),
            "serial": .string(spec.serial),
            "notAfter": .string(spec.notAfter.rfc3339),
            "clientCA": .bool(spec.hasClientCA),
            "resourceVersion": .string(String(stored.revision)),
        ])
    }

    /// Warnings for the Gateways whose servers still name a deleted credential.
    static func danglingReferences(to key: ConfigKey, store: any ConfigStore) async throws -> [String] {
        var warnings: [String] = []
        for stored in try await store.list(kind: .gateway, namespace: nil) {
            guard case .gateway(let gateway)? = try? ConfigValidator.validate(stored.resource) else { continue }
            for (index, server) in gateway.servers.enumerated() {
                guard let credential = server.tls?.credentialName, CredentialIndex.storedName(credential) == key.name else { continue }
                warnings.append(
                    "\(stored.key): spec.servers[\(index)].tls.credentialName: names the deleted credential \(key.name); gateways in namespace \(key.namespace) keep the copy they hold until it is created again"
                )
            }
        }
        return warnings
    }
}

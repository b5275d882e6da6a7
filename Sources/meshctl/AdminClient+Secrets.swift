import Foundation
import MeshModel

/// The gateway credentials API (`/api/v1/secrets/...`), which always needs the admin token.
extension AdminClient {
    /// `PUT /api/v1/secrets/{namespace}/{name}`: creates or replaces a TLS credential.
    func putSecret(namespace: String, name: String, certificate: String, key: String, caCertificates: String?) async throws
        -> MutationResponse
    {
        var fields: [String: JSONValue] = [
            "type": .string(TLSSecret.tlsType), "certificate": .string(certificate), "key": .string(key),
        ]
        if let caCertificates { fields["caCertificates"] = .string(caCertificates) }
        let body = Data(JSONValue.object(fields).canonicalJSON().utf8)
        let data = try await send(.put, Self.secretPath(namespace, name), body: body)
        return try MutationResponse.decode(data, what: "secret response")
    }

    /// `GET /api/v1/secrets[?namespace=NS]`: what may be shown of each credential.
    func listSecrets(namespace: String?) async throws -> [JSONValue] {
        let data = try await send(.get, "/api/v1/secrets", query: namespace.map { [("namespace", $0)] } ?? [])
        guard let items = try JSONValue.parse(data, what: "secret list")["items"]?.arrayValue else {
            throw MeshctlError(.badResponse, "secret list from meshd has no \"items\" array")
        }
        return items
    }

    /// `GET /api/v1/secrets/{namespace}/{name}`.
    func getSecret(namespace: String, name: String) async throws -> JSONValue {
        try JSONValue.parse(try await send(.get, Self.secretPath(namespace, name)), what: "secret")
    }

    /// `DELETE /api/v1/secrets/{namespace}/{name}`.
    func deleteSecret(namespace: String, name: String) async throws -> MutationResponse {
        try MutationResponse.decode(try await send(.delete, Self.secretPath(namespace, name)), what: "delete response")
    }

    private static func secretPath(_ namespace: String, _ name: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove("/")
        return "/api/v1/secrets/" + [namespace, name].map { $0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0 }.joined(separator: "/")
    }
}

import Foundation
import Kubernetes
import MeshModel

/// A Secret every replica shares, created by whichever starts first (`meshd-ca`: the CA root,
/// the token-signing key and the admin token, as istiod keeps its self-signed root in
/// `istio-ca-secret`). A create fails when the Secret exists, so replicas starting at once agree
/// on one set: the losers read the winner's.
public enum SharedSecret {
    /// Reads the Secret `namespace/name`, or creates it with `make`'s data when there is none.
    /// - Returns: the Secret's `data` (decoded), and whether this call created it.
    /// - Throws: `KubeAPIError` when the API server refuses or cannot be reached; a Secret
    ///   without one of `keys` is refused the same way (status 0, naming the key).
    public static func loadOrCreate(
        api: KubeAPIClient, namespace: String, name: String, keys: [String], make: () throws -> [String: String]
    ) async throws -> (data: [String: String], created: Bool) {
        let path = "/api/v1/namespaces/\(namespace)/secrets"
        if let existing = try await read(api: api, path: "\(path)/\(name)", keys: keys, name: "\(namespace)/\(name)") {
            return (existing, false)
        }
        let data = try make()
        let secret: JSONValue = .object([
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": .object([
                "name": .string(name), "namespace": .string(namespace), "labels": .object(["app.kubernetes.io/managed-by": "meshd"]),
            ]),
            "data": .object(data.mapValues { .string(Data($0.utf8).base64EncodedString()) }),
        ])
        let created: Bool
        do {
            _ = try await api.request(.POST, path, body: secret.canonicalJSON(), what: "create Secret \(namespace)/\(name)")
            created = true
        } catch {
            guard error.status == 409 else { throw error }
            created = false
        }
        if created { return (data, true) }
        // Another replica created it first: use theirs.
        guard let theirs = try await read(api: api, path: "\(path)/\(name)", keys: keys, name: "\(namespace)/\(name)") else {
            throw KubeAPIError(status: 0, message: "Secret \(namespace)/\(name) vanished while being created; start again")
        }
        return (theirs, false)
    }

    /// The Secret's data, nil when there is no such Secret.
    private static func read(api: KubeAPIClient, path: String, keys: [String], name: String) async throws -> [String: String]? {
        let response: KubeAPIClient.Response
        do {
            response = try await api.request(.GET, path, body: nil, what: "read Secret \(name)")
        } catch {
            if error.status == 404 { return nil }
            throw error
        }
        return try decode(response.body, keys: keys, name: name)
    }

    private static func decode(_ body: String, keys: [String], name: String) throws -> [String: String] {
        let value = try JSONValue.parse(json: body)
        var data: [String: String] = [:]
        for key in keys {
            guard let encoded = value["data"]?[key]?.stringValue, let bytes = Data(base64Encoded: encoded),
                let text = String(data: bytes, encoding: .utf8)
            else {
                throw KubeAPIError(status: 0, message: "Secret \(name) has no usable data.\(key); delete it to let meshd create a new identity")
            }
            data[key] = text
        }
        return data
    }
}

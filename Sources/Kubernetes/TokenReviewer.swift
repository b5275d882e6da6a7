import MeshModel

/// Asks the API server who a service-account token belongs to (`authentication.k8s.io/v1`
/// TokenReview), as istiod's Kubernetes JWT authenticator does: the review names the audiences
/// the token must have (`istio-ca`), and the answer must be an authenticated service account
/// `system:serviceaccount:NS:SA`. No cache, no fallback: an unreachable API server is a refusal.
public struct TokenReviewer: Sendable {
    /// Why a token was refused, in words safe to return to the caller (never the token).
    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    private let api: KubeAPIClient
    /// The audiences asked for.
    public let audiences: [String]

    public init(api: KubeAPIClient, audiences: [String] = ["istio-ca"]) {
        self.api = api
        self.audiences = audiences
    }

    /// The namespace and service account the API server reviewed `token` as.
    public func review(_ token: String) async throws(Refusal) -> (namespace: String, serviceAccount: String) {
        let request: JSONValue = .object([
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": .object(["token": .string(token), "audiences": .array(audiences.map(JSONValue.string))]),
        ])
        let response: KubeAPIClient.Response
        do {
            response = try await api.post("/apis/authentication.k8s.io/v1/tokenreviews", json: request.canonicalJSON())
        } catch {
            throw Refusal("the Kubernetes API server cannot review the token: \(error)")
        }
        guard response.status == 200 || response.status == 201 else {
            throw Refusal("the Kubernetes API server refused the token review: HTTP \(response.status): \(KubeWatcher.message(response.body))")
        }
        return try Self.identity(reviewed: response.body)
    }

    /// The identity in a TokenReview answer, with istiod's checks in istiod's order.
    static func identity(reviewed body: String) throws(Refusal) -> (namespace: String, serviceAccount: String) {
        guard let value = try? JSONValue.parse(json: body), let status = value["status"] else {
            throw Refusal("the token review's answer has no status")
        }
        if let error = status["error"]?.stringValue, !error.isEmpty {
            throw Refusal("the service account authentication returns an error: \(error)")
        }
        guard status["authenticated"]?.boolValue == true else { throw Refusal("the token is not authenticated") }
        let groups = (status["user"]?["groups"]?.arrayValue ?? []).compactMap(\.stringValue)
        guard groups.contains("system:serviceaccounts") else { throw Refusal("the token is not a service account") }
        let parts = (status["user"]?["username"]?.stringValue ?? "").split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "system", parts[1] == "serviceaccount" else {
            throw Refusal("invalid username field in the token review result")
        }
        guard !parts[2].isEmpty else { throw Refusal("the token review names no namespace") }
        guard !parts[3].isEmpty else { throw Refusal("the token review names no service account") }
        // The names go into a SPIFFE ID: only what Kubernetes itself allows for them.
        guard NameRules.isDNS1123Label(String(parts[2])), NameRules.isDNS1123Subdomain(String(parts[3])) else {
            throw Refusal("the token review names an invalid namespace or service account")
        }
        return (String(parts[2]), String(parts[3]))
    }
}

/// Authenticates a Kubernetes service-account token for the CA (a pod's projected token,
/// audience `istio-ca`): the identity is what the API server says, never what the CSR says.
public protocol ServiceAccountTokenReviewer: Sendable {
    /// The namespace and service account the API server reviewed `token` as; throws
    /// `unauthenticated` with the reason (refused, not a service account, unreachable server).
    func review(_ token: String) async throws(CAError) -> (namespace: String, serviceAccount: String)
}

import EnvoyAPI
import GRPCCore

/// CreateCertificate on the plaintext port: always PERMISSION_DENIED.
///
/// As in istiod, certificates are signed only over TLS (port 15012), where the caller can check
/// meshd's identity before sending a token and where mTLS renewal is possible. Registering this on
/// the plaintext port turns a misconfigured agent's UNIMPLEMENTED into an error that says what to fix.
public struct PlaintextCertificateRefusal: Istio_V1_Auth_IstioCertificateService.SimpleServiceProtocol {
    /// The message every call is refused with.
    public static let message = "certificate signing is served only on the TLS port"

    /// Creates the service.
    public init() {}

    /// Refuses with PERMISSION_DENIED and `PlaintextCertificateRefusal.message`.
    public func createCertificate(
        request: Istio_V1_Auth_IstioCertificateRequest, context: ServerContext
    ) async throws -> Istio_V1_Auth_IstioCertificateResponse {
        throw RPCError(code: .permissionDenied, message: Self.message)
    }
}

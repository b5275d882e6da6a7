import EnvoyAPI
import GRPCCore
import Logging

/// The CA's gRPC API, `istio.v1.auth.IstioCertificateService/CreateCertificate`, as Istio agents call it.
///
/// Per request: authenticate the caller, check the CSR, and sign it for the caller's own identity.
/// The identity comes only from authentication, first a bearer token in the `authorization` metadata
/// (verified by `TokenAuthority`, or for a token meshd did not issue, reviewed by the Kubernetes
/// API server), else the mTLS peer certificate (via `peerIdentity`); the CSR
/// contributes only its public key. A caller with a valid peer certificate but a bad token is still
/// authenticated by the certificate, as in istiod, which accepts any authenticator that succeeds.
///
/// Status mapping: not authenticated → UNAUTHENTICATED; malformed CSR, bad CSR signature, weak key,
/// negative or too long validity → INVALID_ARGUMENT; identity outside the trust domain →
/// PERMISSION_DENIED; CA failure → INTERNAL (details only in the log). Tokens are never logged.
///
/// A `Sendable` value; the server calls it from many tasks at once.
public struct CertificateService: Istio_V1_Auth_IstioCertificateService.SimpleServiceProtocol {
    let ca: any CertificateAuthority
    let tokens: TokenAuthority
    let metrics: CAMetrics?
    let logger: Logger
    let peerIdentity: (@Sendable (ServerContext) async -> SpiffeID?)?
    let serviceAccountTokens: (any ServiceAccountTokenReviewer)?

    /// Creates the service.
    ///
    /// - Parameters:
    ///   - ca: signs the CSRs; its `trustDomain` scopes token identities.
    ///   - tokens: verifies bearer tokens (audience `istio-ca`).
    ///   - metrics: the citadel counters, or nil for none.
    ///   - logger: receives one line per refusal and per issuance.
    ///   - peerIdentity: the authenticated identity of the RPC's TLS peer, or nil when there is none;
    ///     see `CertificateService.tlsPeerIdentity(ca:)`. Omit it to accept tokens only.
    ///   - serviceAccountTokens: reviews a bearer token meshd did not issue as a Kubernetes
    ///     service-account token (`--registry kubernetes`); nil: meshd's own tokens only.
    public init(
        ca: any CertificateAuthority, tokens: TokenAuthority, metrics: CAMetrics?, logger: Logger,
        peerIdentity: (@Sendable (ServerContext) async -> SpiffeID?)? = nil,
        serviceAccountTokens: (any ServiceAccountTokenReviewer)? = nil
    ) {
        self.serviceAccountTokens = serviceAccountTokens
        self.ca = ca
        self.tokens = tokens
        self.metrics = metrics
        self.logger = logger
        self.peerIdentity = peerIdentity
    }

    /// Handles CreateCertificate with access to the request metadata, where the bearer token is.
    ///
    /// This overrides the `SimpleServiceProtocol` default, which would drop the metadata.
    public func createCertificate(
        request: ServerRequest<Istio_V1_Auth_IstioCertificateRequest>, context: ServerContext
    ) async throws -> ServerResponse<Istio_V1_Auth_IstioCertificateResponse> {
        let authorization = Array(request.metadata[stringValues: "authorization"]).first
        return ServerResponse(message: try await handle(request.message, authorization: authorization, context: context))
    }

    /// Handles CreateCertificate without metadata: only the TLS peer identity can authenticate.
    /// gRPC dispatch goes through the metadata-aware overload; this one exists for direct callers.
    public func createCertificate(
        request: Istio_V1_Auth_IstioCertificateRequest, context: ServerContext
    ) async throws -> Istio_V1_Auth_IstioCertificateResponse {
        try await handle(request, authorization: nil, context: context)
    }

    private func handle(
        _ request: Istio_V1_Auth_IstioCertificateRequest, authorization: String?,
        context: ServerContext
    ) async throws(RPCError) -> Istio_V1_Auth_IstioCertificateResponse {
        metrics?.csrCount.increment()
        let peer = context.remotePeer
        let identity: SpiffeID
        do {
            identity = try await authenticate(authorization: authorization, context: context)
        } catch {
            metrics?.authenticationFailures.increment()
            logger.notice("CSR refused: caller not authenticated", metadata: ["peer": "\(peer)", "reason": "\(error.message)"])
            throw RPCError(code: .unauthenticated, message: error.message)
        }
        guard request.validityDuration >= 0 else {
            logger.notice("CSR refused: negative validity", metadata: ["peer": "\(peer)", "identity": "\(identity)"])
            throw RPCError(code: .invalidArgument, message: "validity_duration must not be negative")
        }
        do {
            _ = try SigningRequest(pem: request.csr)
        } catch {
            metrics?.csrParsingErrors.increment()
            logger.notice("CSR refused: unusable CSR", metadata: ["peer": "\(peer)", "identity": "\(identity)", "reason": "\(error.message)"])
            throw RPCError(code: .invalidArgument, message: error.message)
        }
        let ttl: Duration? = request.validityDuration == 0 ? nil : .seconds(request.validityDuration)
        let chain: [String]
        do {
            chain = try ca.sign(csrPEM: request.csr, identity: identity, ttl: ttl)
        } catch {
            logger.notice("CSR refused", metadata: ["peer": "\(peer)", "identity": "\(identity)", "error": "\(error)"])
            throw Self.status(for: error)
        }
        metrics?.successfulIssuances.increment()
        logger.info("certificate issued", metadata: ["peer": "\(peer)", "identity": "\(identity)", "ttl": "\(ttl ?? .zero)"])
        var response = Istio_V1_Auth_IstioCertificateResponse()
        response.certChain = chain
        return response
    }

    /// The caller's identity: the bearer token's when it verifies, else the TLS peer's; otherwise the
    /// token's refusal (or "no credential").
    private func authenticate(authorization: String?, context: ServerContext) async throws(CAError) -> SpiffeID {
        var refusal = CAError(
            code: .unauthenticated,
            message: "no credential: send a bearer token or connect with a workload certificate")
        if let authorization {
            let scheme = "bearer "
            if authorization.count > scheme.count, authorization.prefix(scheme.count).lowercased() == scheme {
                let token = authorization.dropFirst(scheme.count).trimmingCharacters(in: .whitespaces)
                do {
                    let (namespace, serviceAccount) = try tokens.verify(token)
                    return SpiffeID(trustDomain: ca.trustDomain, namespace: namespace, serviceAccount: serviceAccount)
                } catch {
                    refusal = error
                }
                // Not one of meshd's tokens: a Kubernetes service-account token, when meshd runs
                // with a Kubernetes registry. Either authenticator may succeed, as in istiod.
                if let reviewer = serviceAccountTokens, !tokens.isOwnToken(token) {
                    do {
                        let (namespace, serviceAccount) = try await reviewer.review(token)
                        return SpiffeID(trustDomain: ca.trustDomain, namespace: namespace, serviceAccount: serviceAccount)
                    } catch {
                        refusal = error
                    }
                }
            } else {
                refusal = CAError(code: .unauthenticated, message: "authorization metadata is not a bearer token")
            }
        }
        if let peerIdentity, let identity = await peerIdentity(context) { return identity }
        throw refusal
    }

    /// The gRPC status for a CA refusal; internal details stay in the log, not on the wire.
    static func status(for error: CAError) -> RPCError {
        switch error.code {
        case .unauthenticated: RPCError(code: .unauthenticated, message: error.message)
        case .invalidArgument: RPCError(code: .invalidArgument, message: error.message)
        case .permissionDenied: RPCError(code: .permissionDenied, message: error.message)
        case .internalError: RPCError(code: .internalError, message: "certificate signing failed")
        }
    }
}

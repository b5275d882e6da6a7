/// The seam between the renewal loop and meshd's CA: sends a CSR, returns the signed chain.
///
/// The loop depends only on this, so it can be driven by an in-memory signer in tests; the
/// real one is `GRPCCertificateSigner`.
protocol CertificateSigner: Sendable {
    /// Asks the CA to sign `csrPEM` for `validitySeconds`, authenticating with `credentials`.
    ///
    /// - Returns: PEM certificates, leaf first and root last, as meshd sent them.
    /// - Throws: `AgentError` with code `.rpc(status:)` when the call fails.
    func sign(csrPEM: String, validitySeconds: Int64, credentials: SignerCredentials) async throws -> [String]
}

/// How the agent proves who it is to the CA on one call: a bearer token, the certificate it
/// already holds (as its TLS client certificate), or both.
struct SignerCredentials: Sendable {
    /// Sent as `authorization: Bearer TOKEN` when present.
    var token: String?
    /// Presented as the TLS client certificate when present and still valid, so renewal keeps
    /// working after the token has expired.
    var clientCertificate: IssuedCertificate?

    /// Whether the call can authenticate at all.
    var isEmpty: Bool { token == nil && clientCertificate == nil }

    /// For logs: which credentials a call used.
    var summary: String {
        switch (token != nil, clientCertificate != nil) {
        case (true, true): return "token and client certificate"
        case (true, false): return "token"
        case (false, true): return "client certificate"
        case (false, false): return "nothing"
        }
    }
}

import EnvoyAPI
import GRPCCore
import GRPCNIOTransportHTTP2

/// Calls `istio.v1.auth.IstioCertificateService/CreateCertificate` on meshd's TLS port.
///
/// One connection per call: issuance happens twice a lifetime, and the client certificate
/// presented changes with every renewal, so a long-lived channel would only have to be rebuilt.
/// The call fails fast (no wait-for-ready) so the renewal loop's own backoff decides the pace.
struct GRPCCertificateSigner: CertificateSigner {
    /// Where meshd's CA listens (token authentication).
    let address: CAAddress
    /// meshd's renewal port, which requires a client certificate: calls that present one go there.
    let renewAddress: CAAddress
    /// The name meshd's certificate must carry (`--server-name`).
    let serverName: String
    /// The PEM trust anchor(s) meshd's certificate must chain to (`--root-cert`).
    let trustRootPEM: String
    /// The whole call, connection and TLS handshake included.
    var timeout: Duration = .seconds(30)

    func sign(csrPEM: String, validitySeconds: Int64, credentials: SignerCredentials) async throws -> [String] {
        let transport: HTTP2ClientTransport.Posix
        do {
            transport = try HTTP2ClientTransport.Posix(
                target: (credentials.clientCertificate == nil ? address : renewAddress).target,
                transportSecurity: .tls(tlsConfiguration(presenting: credentials.clientCertificate)),
                config: transportConfiguration())
        } catch let error as RPCError {
            throw AgentError(rpc: error)
        }

        var request = Istio_V1_Auth_IstioCertificateRequest()
        request.csr = csrPEM
        request.validityDuration = validitySeconds
        var metadata: Metadata = [:]
        if let token = credentials.token {
            metadata.addString("Bearer \(token)", forKey: "authorization")
        }
        var options = CallOptions.defaults
        options.timeout = timeout
        options.waitForReady = false

        do {
            return try await withGRPCClient(transport: transport) { client in
                let ca = Istio_V1_Auth_IstioCertificateService.Client(wrapping: client)
                return try await ca.createCertificate(request, metadata: metadata, options: options) { response in
                    try response.message.certChain
                }
            }
        } catch let error as RPCError {
            throw AgentError(rpc: error)
        }
    }

    /// Server verification against `--root-cert` only (never the system store: meshd's CA is
    /// private), and the agent's current certificate as client certificate when it has one.
    private func tlsConfiguration(
        presenting certificate: IssuedCertificate?
    ) -> HTTP2ClientTransport.Posix.TransportSecurity.TLS {
        .defaults { tls in
            tls.trustRoots = .certificates([.bytes(Array(trustRootPEM.utf8), format: .pem)])
            tls.serverCertificateVerification = .fullVerification
            if let certificate {
                tls.certificateChain = [.bytes(Array(certificate.chainPEM.utf8), format: .pem)]
                tls.privateKey = .bytes(Array(certificate.keyPEM.utf8), format: .pem)
            }
        }
    }

    /// The authority is the TLS server name: it is both the SNI sent and the name meshd's
    /// certificate is verified against. An IP literal cannot go in SNI, so for one the
    /// authority is left to the address and the certificate is checked against the peer's IP.
    private func transportConfiguration() -> HTTP2ClientTransport.Posix.Config {
        var config = HTTP2ClientTransport.Posix.Config.defaults
        if !CAAddress.isIPLiteral(serverName) {
            config.http2.authority = serverName
        }
        return config
    }
}

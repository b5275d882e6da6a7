import GRPCCore
import GRPCNIOTransportHTTP2
import X509

extension CertificateService {
    /// A `peerIdentity` closure for servers on `HTTP2ServerTransport.Posix` with TLS: reads the peer's
    /// certificate chain from the transport context and returns its SPIFFE identity if the chain
    /// verifies against `ca` (see `LocalCertificateAuthority.identity(ofPeerChain:now:)`).
    ///
    /// The transport fills `peerCertificateChain` only when a custom verification callback is
    /// configured, and otherwise just `peerCertificate` (the leaf); either is enough, because `ca`
    /// re-verifies the chain itself and supplies its own intermediates. Plaintext connections, other
    /// transports and connections without a client certificate yield nil. The server's TLS config
    /// must ask for client certificates (for example `clientCertificateVerification:
    /// .noHostnameVerification` with `ca`'s root as trust root) or no peer certificate arrives.
    public static func tlsPeerIdentity(ca: LocalCertificateAuthority) -> @Sendable (ServerContext) async -> SpiffeID? {
        { context in
            guard let tls = context.transportSpecific as? HTTP2ServerTransport.Posix.Context else { return nil }
            let chain: [Certificate]
            if let validated = tls.peerCertificateChain {
                chain = Array(validated)
            } else if let leaf = tls.peerCertificate {
                chain = [leaf]
            } else {
                return nil
            }
            return await ca.identity(ofPeerChain: chain)
        }
    }
}

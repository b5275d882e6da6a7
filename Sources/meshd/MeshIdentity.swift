import CertificateAuthority
import Foundation
import GRPCNIOTransportHTTP2
import Logging

/// meshd's identity pieces, loaded (or created on first start) from the data directory:
/// the CA (self-signed root in DATA_DIR/ca, or a plugged-in one), the workload-token signer,
/// and the admin token.
struct MeshIdentity {
    let ca: LocalCertificateAuthority
    let tokens: TokenAuthority
    let adminToken: String
    let certificateService: CertificateService
    /// The same service for the renewal port: callers authenticate with their mesh certificate.
    let renewalService: CertificateService

    static func load(dataDirectory: URL, caDirectory: URL?, trustDomain: String, metrics: CAMetrics, logger: Logger) throws -> MeshIdentity {
        let ca =
            try pluggedCA(caDirectory, trustDomain: trustDomain, logger: logger)
            ?? LocalCertificateAuthority.loadOrCreate(directory: dataDirectory.appendingPathComponent("ca"), trustDomain: trustDomain)
        let tokens = try TokenAuthority.loadOrCreate(directory: dataDirectory)
        let adminToken = try AdminToken.loadOrCreate(directory: dataDirectory)
        return assemble(ca: ca, tokens: tokens, adminToken: adminToken, metrics: metrics, logger: logger)
    }

    /// The identity around its loaded pieces: the CA services of the TLS and renewal ports.
    static func assemble(
        ca: LocalCertificateAuthority, tokens: TokenAuthority, adminToken: String,
        metrics: CAMetrics, logger: Logger
    ) -> MeshIdentity {
        metrics.setRootExpiry(ca.rootExpiry)
        let service = CertificateService(ca: ca, tokens: tokens, metrics: metrics, logger: logger)
        let renewal = CertificateService(
            ca: ca, tokens: tokens, metrics: metrics, logger: logger,
            peerIdentity: CertificateService.tlsPeerIdentity(ca: ca))
        return MeshIdentity(ca: ca, tokens: tokens, adminToken: adminToken, certificateService: service, renewalService: renewal)
    }

    /// The plugged-in CA of `--ca-dir` (Istio's `cacerts`), which overrides any stored root.
    static func pluggedCA(_ caDirectory: URL?, trustDomain: String, logger: Logger) throws -> LocalCertificateAuthority? {
        guard let caDirectory else { return nil }
        let ca = try LocalCertificateAuthority.loadPlugged(directory: caDirectory, trustDomain: trustDomain)
        logger.info("CA loaded from plugged-in certificates", metadata: ["ca_dir": "\(caDirectory.path)"])
        return ca
    }

    /// TLS settings for the TLS port: a serving certificate from meshd's own CA, re-issued at each
    /// start, naming `dnsNames` and the listen address (loopback too when listening on all addresses).
    func servingCertificate(dnsNames: [String], listenAddress: String) throws -> ServingCertificate {
        var ips = [listenAddress]
        if listenAddress == "0.0.0.0" { ips = ["127.0.0.1"] }
        let (chain, key) = try ca.issueServingCertificate(dnsNames: dnsNames, ipAddresses: ips, ttl: .seconds(365 * 86_400))
        return ServingCertificate(
            chain: chain.map { .bytes(Array($0.utf8), format: .pem) },
            key: .bytes(Array(key.utf8), format: .pem),
            root: .bytes(Array(ca.rootCertificatePEM.utf8), format: .pem))
    }
}

/// meshd's TLS serving certificate and the two ways the ports use it.
///
/// grpc-swift-nio-transport has no *optional* client-certificate mode, so the two kinds of
/// caller get a port each: the TLS port (15012) asks for no client certificate (workloads
/// present bearer tokens), the renewal port (15013) requires one that chains to the mesh root.
struct ServingCertificate {
    let chain: [TLSConfig.CertificateSource]
    let key: TLSConfig.PrivateKeySource
    let root: TLSConfig.CertificateSource

    /// Server-authenticated TLS.
    var serverOnly: HTTP2ServerTransport.Posix.TransportSecurity {
        .tls(certificateChain: chain, privateKey: key)
    }

    /// Mutual TLS: the client must present a certificate issued under the mesh root.
    var mutual: HTTP2ServerTransport.Posix.TransportSecurity {
        .tls(certificateChain: chain, privateKey: key) { tls in
            tls.clientCertificateVerification = .noHostnameVerification
            tls.trustRoots = .certificates([root])
        }
    }
}

extension MeshIdentity {
    /// The identity whose CA services also accept Kubernetes service-account tokens reviewed by
    /// `reviewer` (itself when nil).
    func reviewing(_ reviewer: (any ServiceAccountTokenReviewer)?, metrics: CAMetrics, logger: Logger) -> MeshIdentity {
        guard let reviewer else { return self }
        let service = CertificateService(ca: ca, tokens: tokens, metrics: metrics, logger: logger, serviceAccountTokens: reviewer)
        let renewal = CertificateService(
            ca: ca, tokens: tokens, metrics: metrics, logger: logger, peerIdentity: CertificateService.tlsPeerIdentity(ca: ca),
            serviceAccountTokens: reviewer)
        return MeshIdentity(ca: ca, tokens: tokens, adminToken: adminToken, certificateService: service, renewalService: renewal)
    }
}

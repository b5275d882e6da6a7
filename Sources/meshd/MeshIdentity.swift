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

    static func load(dataDirectory: URL, caDirectory: URL?, trustDomain: String, metrics: CAMetrics, logger: Logger) throws -> MeshIdentity {
        let ca: LocalCertificateAuthority
        if let caDirectory {
            ca = try LocalCertificateAuthority.loadPlugged(directory: caDirectory, trustDomain: trustDomain)
            logger.info("CA loaded from plugged-in certificates", metadata: ["ca_dir": "\(caDirectory.path)"])
        } else {
            ca = try LocalCertificateAuthority.loadOrCreate(directory: dataDirectory.appendingPathComponent("ca"), trustDomain: trustDomain)
        }
        metrics.setRootExpiry(ca.rootExpiry)
        let tokens = try TokenAuthority.loadOrCreate(directory: dataDirectory)
        let adminToken = try AdminToken.loadOrCreate(directory: dataDirectory)
        let service = CertificateService(ca: ca, tokens: tokens, metrics: metrics, logger: logger)
        return MeshIdentity(ca: ca, tokens: tokens, adminToken: adminToken, certificateService: service)
    }

    /// TLS settings for the TLS port: a serving certificate from meshd's own CA, re-issued at each
    /// start, naming `dnsNames` and the listen address (loopback too when listening on all addresses).
    func servingCertificate(dnsNames: [String], listenAddress: String) throws -> HTTP2ServerTransport.Posix.TransportSecurity {
        var ips = [listenAddress]
        if listenAddress == "0.0.0.0" { ips = ["127.0.0.1"] }
        let (chain, key) = try ca.issueServingCertificate(dnsNames: dnsNames, ipAddresses: ips, ttl: .seconds(365 * 86_400))
        // Workloads authenticate with bearer tokens; grpc-swift-nio-transport offers no
        // optional client-certificate mode, so the port does not ask for client certificates.
        return .tls(certificateChain: chain.map { .bytes(Array($0.utf8), format: .pem) },
                    privateKey: .bytes(Array(key.utf8), format: .pem))
    }
}

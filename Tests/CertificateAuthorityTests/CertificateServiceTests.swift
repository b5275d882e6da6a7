import Crypto
import EnvoyAPI
import Foundation
import GRPCCore
import Logging
import Prometheus
import Testing
import X509

@testable import CertificateAuthority

@Suite("CertificateService")
struct CertificateServiceTests {
    /// Calls CreateCertificate the way the gRPC router does (the metadata-aware overload).
    func call(
        _ service: some Istio_V1_Auth_IstioCertificateService.ServiceProtocol, csr: String,
        validity: Int64 = 0, authorization: String?
    ) async throws -> Istio_V1_Auth_IstioCertificateResponse {
        var request = Istio_V1_Auth_IstioCertificateRequest()
        request.csr = csr
        request.validityDuration = validity
        var metadata = Metadata()
        if let authorization { metadata.addString(authorization, forKey: "authorization") }
        return try await withServerContextRPCCancellationHandle { handle in
            let context = ServerContext(
                descriptor: MethodDescriptor(fullyQualifiedService: "istio.v1.auth.IstioCertificateService", method: "CreateCertificate"),
                remotePeer: "ipv4:127.0.0.1:5000", localPeer: "ipv4:127.0.0.1:15012", cancellation: handle)
            return try await service.createCertificate(request: ServerRequest(metadata: metadata, message: request), context: context).message
        }
    }

    func metricsText(_ registry: PrometheusCollectorRegistry) -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    @Test("a bearer token gets a certificate for its own identity; no or bad credentials get UNAUTHENTICATED")
    func tokenAuthenticatedSigning() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ca = try LocalCertificateAuthority.loadOrCreate(directory: directory.url, trustDomain: "cluster.local")
        let tokens = TokenAuthority(privateKey: P256.Signing.PrivateKey())
        let registry = PrometheusCollectorRegistry()
        let service = CertificateService(ca: ca, tokens: tokens, metrics: CAMetrics(registry: registry), logger: Logger(label: "test"))
        let csr = try CSRFactory.p256().pem

        let token = tokens.issue(namespace: "default", serviceAccount: "reviews", ttl: .seconds(600))
        let response = try await call(service, csr: csr, validity: 3600, authorization: "Bearer \(token)")
        #expect(response.certChain.count == 2)
        let leaf = try Certificate(pemEncoded: response.certChain[0])
        #expect(WorkloadLeafPolicy.identity(of: leaf, trustDomain: "cluster.local")?.uri == "spiffe://cluster.local/ns/default/sa/reviews")

        for authorization in [nil, "Bearer not-a-token", "Basic \(token)"] {
            let error = await #expect(throws: RPCError.self) { try await call(service, csr: csr, authorization: authorization) }
            #expect(error?.code == .unauthenticated)
        }
        let negative = await #expect(throws: RPCError.self) { try await call(service, csr: csr, validity: -1, authorization: "Bearer \(token)") }
        #expect(negative?.code == .invalidArgument)
        let tampered = await #expect(throws: RPCError.self) {
            try await call(service, csr: try CSRFactory.tampered(csr), authorization: "Bearer \(token)")
        }
        #expect(tampered?.code == .invalidArgument)

        let text = metricsText(registry)
        #expect(text.contains("citadel_server_csr_count 6"))
        #expect(text.contains("citadel_server_authentication_failure_count 3"))
        #expect(text.contains("citadel_server_csr_parsing_err_count 1"))
        #expect(text.contains("citadel_server_success_cert_issuance_count 1"))
    }

    @Test("the mTLS peer identity authenticates a renewal; the plaintext port refuses signing")
    func peerIdentityAndPlaintextRefusal() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ca = try LocalCertificateAuthority.loadOrCreate(directory: directory.url, trustDomain: "cluster.local")
        let ratings = SpiffeID(trustDomain: "cluster.local", namespace: "default", serviceAccount: "ratings")
        let service = CertificateService(
            ca: ca, tokens: TokenAuthority(privateKey: P256.Signing.PrivateKey()), metrics: nil,
            logger: Logger(label: "test"), peerIdentity: { _ in ratings })
        let response = try await call(service, csr: try CSRFactory.p256().pem, authorization: nil)
        let leaf = try Certificate(pemEncoded: response.certChain[0])
        #expect(await ca.identity(ofPeerChain: [leaf]) == ratings)

        let error = await #expect(throws: RPCError.self) {
            try await call(PlaintextCertificateRefusal(), csr: try CSRFactory.p256().pem, authorization: nil)
        }
        #expect(error?.code == .permissionDenied)
        #expect(error?.message == "certificate signing is served only on the TLS port")
    }
}

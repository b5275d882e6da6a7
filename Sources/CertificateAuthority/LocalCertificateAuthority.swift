import Crypto
import Foundation
import MeshCommon
import SwiftASN1
import X509

/// meshd's own certificate authority: a key and certificate on local disk that sign workload CSRs.
///
/// Two ways to get one: `loadOrCreate` (a self-signed root that meshd creates on first start) and
/// `loadPlugged` (an operator's intermediate under an offline root, Istio's `cacerts` layout). After
/// loading, all state is immutable `let`s, so the CA is `Sendable` and every method may be called
/// from any number of tasks at once.
public final class LocalCertificateAuthority: CertificateAuthority {
    /// The SPIFFE trust domain identities are issued in, for example `cluster.local`.
    public let trustDomain: String
    /// Lifetimes for workload certificates.
    public let policy: CertificateSigningPolicy
    /// The trust anchors, PEM: the self-signed root, or every certificate of a plugged-in `root-cert.pem`.
    public let rootCertificatePEM: String
    /// Expiry of the root the signing certificate chains to.
    public let rootExpiry: Date

    /// Signs leaves; its chain runs from the signing certificate to the root.
    let issuer: CertificateIssuer
    /// The trust anchors, parsed (peer chains are verified against these).
    let roots: [Certificate]

    /// The file names of the self-signed layout, shared with Istio's `istio-ca-secret` keys.
    static let rootCertificateFile = "root-cert.pem"
    static let rootKeyFile = "root-key.pem"

    init(trustDomain: String, policy: CertificateSigningPolicy, issuer: CertificateIssuer, roots: [Certificate]) throws(CAError) {
        guard SpiffeID.isValidTrustDomain(trustDomain) else {
            throw CAError(code: .invalidArgument, message: "trust domain \"\(trustDomain)\" is not a valid SPIFFE trust domain")
        }
        self.trustDomain = trustDomain
        self.policy = policy
        self.issuer = issuer
        self.roots = roots
        var pem = ""
        for root in roots { pem += try PEMCertificates.encode(root) }
        rootCertificatePEM = pem
        rootExpiry = issuer.chain[issuer.chain.count - 1].notValidAfter
    }

    /// Loads the self-signed root from `directory`, creating it on first start.
    ///
    /// First start (neither file present): creates `directory` with mode 0700, a self-signed root
    /// (ECDSA P-256, 10 years, CA:true, keyCertSign) and persists `root-cert.pem` (0644) and
    /// `root-key.pem` (0600). Later starts load both and check that the key matches the certificate
    /// and that the root is a CA certificate valid now (an expired root is an error, not renewed).
    /// Exactly one of the two present is an error: meshd never silently replaces a root that
    /// workloads may already trust.
    public static func loadOrCreate(
        directory: URL, trustDomain: String,
        policy: CertificateSigningPolicy = .init()
    ) throws(CAError) -> LocalCertificateAuthority {
        try SecureFileStore.ensureDirectory(directory)
        let certificateURL = directory.appendingPathComponent(rootCertificateFile)
        let keyURL = directory.appendingPathComponent(rootKeyFile)
        switch (try SecureFileStore.read(certificateURL), try SecureFileStore.read(keyURL)) {
        case (let certificatePEM?, let keyPEM?):
            return try load(
                rootCertificatePEM: certificatePEM, rootKeyPEM: keyPEM, trustDomain: trustDomain, policy: policy,
                certificateSource: certificateURL.path, keySource: keyURL.path)
        case (nil, nil):
            let (ca, keyPEM) = try createSelfSigned(trustDomain: trustDomain, policy: policy)
            // Key first: a crash in between leaves a key without a certificate, which the next start
            // reports instead of overwriting.
            try SecureFileStore.writeFile(keyPEM, to: keyURL, mode: 0o600)
            try SecureFileStore.writeFile(ca.rootCertificatePEM, to: certificateURL, mode: 0o644)
            return ca
        case (_?, nil), (nil, _?):
            throw CAError(
                code: .internalError,
                message:
                    "\(directory.path) holds only one of \(rootCertificateFile) and \(rootKeyFile); restore the other, or remove both to create a new root"
            )
        }
    }

    /// A CA over a self-signed root kept elsewhere (etcd, sealed): checks that the key matches the
    /// certificate and that the root is a CA certificate valid now. The sources name where the
    /// PEM came from in errors.
    public static func load(
        rootCertificatePEM: String, rootKeyPEM: String, trustDomain: String,
        policy: CertificateSigningPolicy = .init(), certificateSource: String,
        keySource: String
    ) throws(CAError) -> LocalCertificateAuthority {
        let roots = try PEMCertificates.parse(rootCertificatePEM, source: certificateSource)
        let key = try loadKey(rootKeyPEM, source: keySource, matching: roots[0], certificateSource: certificateSource)
        try ChainBuilder.checkUsable(roots[0], now: Date(), what: "\(certificateSource) certificate \(roots[0].subject)")
        return try LocalCertificateAuthority(
            trustDomain: trustDomain, policy: policy,
            issuer: CertificateIssuer(signingKey: key, chain: [roots[0]]), roots: [roots[0]])
    }

    /// A new self-signed root (ECDSA P-256, 10 years, CA:true, keyCertSign) and its key as PEM;
    /// the caller persists both (`rootCertificatePEM` and the key) before anything trusts it.
    public static func createSelfSigned(trustDomain: String, policy: CertificateSigningPolicy = .init())
        throws(CAError) -> (ca: LocalCertificateAuthority, rootKeyPEM: String)
    {
        let key = P256.Signing.PrivateKey()
        let root = try makeRoot(key: Certificate.PrivateKey(key), trustDomain: trustDomain, now: Date())
        let ca = try LocalCertificateAuthority(
            trustDomain: trustDomain, policy: policy,
            issuer: CertificateIssuer(signingKey: Certificate.PrivateKey(key), chain: [root]),
            roots: [root])
        return (ca, key.pemRepresentation + "\n")
    }

    /// Issues a workload certificate; see `CertificateAuthority.sign(csrPEM:identity:ttl:)`.
    ///
    /// Also refuses (`permissionDenied`) an identity outside this CA's trust domain and
    /// (`invalidArgument`) one whose parts are not valid SPIFFE path segments.
    public func sign(csrPEM: String, identity: SpiffeID, ttl: Duration?) throws(CAError) -> [String] {
        try identity.validate()
        guard identity.trustDomain == trustDomain else {
            throw CAError(
                code: .permissionDenied,
                message: "identity \(identity) is outside this CA's trust domain \"\(trustDomain)\"")
        }
        let lifetime = try policy.lifetime(for: ttl)
        let request = try SigningRequest(pem: csrPEM)
        let leaf = try issuer.issue(
            publicKey: request.publicKey, names: [.uniformResourceIdentifier(identity.uri)],
            lifetime: lifetime, now: Date())
        return [try PEMCertificates.encode(leaf)] + issuer.chainPEM
    }

    /// meshd's own TLS serving certificate, signed by this CA.
    ///
    /// A new ECDSA P-256 key; SANs are `dnsNames` and `ipAddresses` (IPv4 or IPv6 literals); EKU
    /// serverAuth and clientAuth (meshd also dials peers with it). `ttl` must be positive; it is not
    /// bounded by `policy` (that governs workload certificates) but is capped at the signing
    /// certificate's expiry.
    ///
    /// - Returns: the chain (leaf, intermediates, root) and the new key as PKCS#8 PEM.
    public func issueServingCertificate(
        dnsNames: [String], ipAddresses: [String],
        ttl: Duration
    ) throws(CAError) -> (chainPEM: [String], privateKeyPEM: String) {
        guard ttl > .zero else {
            throw CAError(code: .invalidArgument, message: "serving certificate TTL \(ttl) must be positive")
        }
        var names: [GeneralName] = dnsNames.map { .dnsName($0) }
        for address in ipAddresses { names.append(try Self.ipAddressName(address)) }
        guard !names.isEmpty else {
            throw CAError(code: .invalidArgument, message: "serving certificate needs at least one DNS name or IP address")
        }
        let key = P256.Signing.PrivateKey()
        let leaf = try issuer.issue(publicKey: Certificate.PrivateKey(key).publicKey, names: names, lifetime: ttl, now: Date())
        return ([try PEMCertificates.encode(leaf)] + issuer.chainPEM, key.pemRepresentation + "\n")
    }

    // MARK: - Helpers

    /// Parses a private key (PKCS#8, SEC1 or PKCS#1) and checks it belongs to `certificate`.
    static func loadKey(
        _ pem: String, source: String, matching certificate: Certificate,
        certificateSource: String
    ) throws(CAError) -> Certificate.PrivateKey {
        let key: Certificate.PrivateKey
        do {
            key = try Certificate.PrivateKey(pemEncoded: pem)
        } catch {
            throw CAError(code: .internalError, message: "\(source): not a valid PEM private key", cause: error)
        }
        guard key.publicKey == certificate.publicKey else {
            throw CAError(code: .internalError, message: "\(source) does not match the certificate in \(certificateSource)")
        }
        return key
    }

    /// The self-signed root: O=trust domain so operators can tell meshes apart in `openssl x509` output.
    static func makeRoot(key: Certificate.PrivateKey, trustDomain: String, now: Date) throws(CAError) -> Certificate {
        do {
            let name = try DistinguishedName {
                OrganizationName(trustDomain)
                CommonName("meshd root CA")
            }
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: key.publicKey)
            }
            return try Certificate(
                version: .v3, serialNumber: CertificateIssuer.randomSerialNumber(), publicKey: key.publicKey,
                notValidBefore: now.addingTimeInterval(-60), notValidAfter: now.addingTimeInterval(10 * 365 * 86_400),
                issuer: name, subject: name, extensions: extensions, issuerPrivateKey: key)
        } catch {
            throw CAError(code: .internalError, message: "cannot create the self-signed root certificate", cause: error)
        }
    }

    /// An iPAddress SAN from a textual IPv4 or IPv6 address.
    static func ipAddressName(_ text: String) throws(CAError) -> GeneralName {
        if let bytes = IPAddressSyntax.bytes(text) {
            return .ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes)))
        }
        throw CAError(code: .invalidArgument, message: "\"\(text)\" is not an IPv4 or IPv6 address")
    }
}

import SwiftASN1
import X509

/// The X.509 verifier policy for workload certificates presented by peers: the leaf carries exactly
/// one URI SAN, a SPIFFE ID in our trust domain, and is not a CA.
///
/// It declares the SAN extension as handled because workload certificates (ours and Istio's) have an
/// empty subject and therefore a critical SAN (RFC 5280 §4.2.1.6); `RFC5280Policy` alone would reject
/// them as carrying an unhandled critical extension. It may claim that only because it enforces the
/// SAN: a leaf with any other URI SAN, or several, fails.
struct WorkloadLeafPolicy: VerifierPolicy {
    /// The trust domain a peer's identity must be in.
    let trustDomain: String

    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [.X509ExtensionID.subjectAlternativeName]

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
        let leaf = chain.leaf
        if case .isCertificateAuthority = try? leaf.extensions.basicConstraints {
            return .failsToMeetPolicy(reason: "peer leaf certificate is a CA certificate")
        }
        guard Self.identity(of: leaf, trustDomain: trustDomain) != nil else {
            return .failsToMeetPolicy(reason: "peer leaf certificate does not carry exactly one SPIFFE ID in trust domain \(trustDomain)")
        }
        return .meetsPolicy
    }

    /// The leaf's SPIFFE identity: its only URI SAN, parsed, in `trustDomain`; nil otherwise.
    ///
    /// Several URI SANs are refused rather than picking one, so a certificate can never stand for two
    /// identities at once.
    static func identity(of leaf: Certificate, trustDomain: String) -> SpiffeID? {
        guard let names = try? leaf.extensions.subjectAlternativeNames else { return nil }
        let uris = names.compactMap { name -> String? in
            if case .uniformResourceIdentifier(let uri) = name { return uri }
            return nil
        }
        guard uris.count == 1, let id = SpiffeID(uri: uris[0]), id.trustDomain == trustDomain else { return nil }
        return id
    }
}

import Crypto
import Foundation

/// Issues and verifies the bearer tokens workloads present to the CA: ES256 JWTs shaped like
/// Kubernetes service-account tokens, signed by meshd's own key.
///
/// Why no JWT library: the format is three base64url segments and one ECDSA signature, which
/// swift-crypto and Foundation already cover; a library would add a dependency tree (and its
/// algorithm-negotiation surface, the classic source of `alg: none` bugs) for ~150 lines of code.
/// Verification here accepts exactly one algorithm and one key.
///
/// Immutable, hence `Sendable`; safe to use from any number of tasks.
public struct TokenAuthority: Sendable {
    /// The signing key; its public half verifies.
    let privateKey: P256.Signing.PrivateKey
    /// The `iss` claim written and required.
    let issuer: String
    /// The `kid` header: the RFC 7638 JWK thumbprint of the public key, so a rotated key is told apart.
    let keyID: String

    /// The file the signing key is kept in.
    static let keyFile = "token-signing-key.pem"
    /// Tolerated clock difference between meshd and whoever minted or presents the token.
    static let clockSkew: TimeInterval = 60
    /// Bounds parsing work on hostile input; our tokens are about 600 bytes.
    static let maximumTokenBytes = 8 * 1024

    /// Loads the ES256 signing key from `directory/token-signing-key.pem`, creating it (mode 0600, in a
    /// directory created 0700) on first start.
    public static func loadOrCreate(directory: URL) throws(CAError) -> TokenAuthority {
        try SecureFileStore.ensureDirectory(directory)
        let url = directory.appendingPathComponent(keyFile)
        if let pem = try SecureFileStore.read(url) {
            do {
                return TokenAuthority(privateKey: try P256.Signing.PrivateKey(pemRepresentation: pem))
            } catch {
                throw CAError(code: .internalError, message: "\(url.path): not a PEM P-256 private key", cause: error)
            }
        }
        let key = P256.Signing.PrivateKey()
        try SecureFileStore.writeFile(key.pemRepresentation + "\n", to: url, mode: 0o600)
        return TokenAuthority(privateKey: key)
    }

    /// Creates an authority around `privateKey`; `issuer` is written to and required in `iss`.
    public init(privateKey: P256.Signing.PrivateKey, issuer: String = "meshd") {
        self.privateKey = privateKey
        self.issuer = issuer
        let raw = privateKey.publicKey.rawRepresentation  // x || y, 32 bytes each
        let jwk = #"{"crv":"P-256","kty":"EC","x":"\#(Base64URL.encode(raw.prefix(32)))","y":"\#(Base64URL.encode(raw.suffix(32)))"}"#
        keyID = Base64URL.encode(Array(SHA256.hash(data: Data(jwk.utf8))))
    }

    /// A JWT for the workload identity `namespace`/`serviceAccount`, valid from `now` for `ttl`.
    ///
    /// Header `{"alg":"ES256","typ":"JWT","kid":…}`; claims `iss`, `sub`
    /// (`system:serviceaccount:NS:SA`), `aud` (`[audience]`), `iat`, `nbf`, `exp` and
    /// `kubernetes.io` `{namespace, serviceaccount: {name}}`. Names are not validated here; `verify`
    /// refuses tokens whose names are not valid SPIFFE path segments.
    public func issue(
        namespace: String, serviceAccount: String, ttl: Duration, audience: String = "istio-ca",
        now: Date = Date()
    ) -> String {
        let issuedAt = now.timeIntervalSince1970.rounded(.down)
        let header = Header(alg: "ES256", typ: "JWT", kid: keyID)
        let claims = Claims(
            iss: issuer, sub: "system:serviceaccount:\(namespace):\(serviceAccount)", aud: Audience([audience]),
            iat: issuedAt, nbf: issuedAt, exp: issuedAt + Double(ttl.components.seconds),
            kubernetes: Kubernetes(namespace: namespace, serviceaccount: .init(name: serviceAccount)))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            let signingInput = Base64URL.encode(try encoder.encode(header)) + "." + Base64URL.encode(try encoder.encode(claims))
            let signature = try privateKey.signature(for: Data(signingInput.utf8))
            return signingInput + "." + Base64URL.encode(signature.rawRepresentation)
        } catch {
            // Encoding plain strings and numbers cannot fail, nor can ECDSA signing with a valid key;
            // reaching this is a broken runtime, not bad input.
            preconditionFailure("cannot encode or sign a token: \(error)")
        }
    }

    /// Verifies `token` and returns the workload identity it names.
    ///
    /// Checked in this order, each failure a `CAError(code: .unauthenticated)` with a precise message
    /// that never contains the token: shape; header `alg` exactly `ES256` (`none`, `HS256`, `RS256` and
    /// anything else are refused before any cryptography); no `crit`; `kid`, if present, is ours; the
    /// ECDSA signature against OUR key; `iss`; `exp` (required) and `nbf`/`iat` with ≤ 60 s skew; `aud`
    /// contains `audience`; `sub` is `system:serviceaccount:NS:SA` with valid names, agreeing with the
    /// `kubernetes.io` claim when present.
    public func verify(
        _ token: String, audience: String = "istio-ca",
        now: Date = Date()
    ) throws(CAError) -> (namespace: String, serviceAccount: String) {
        guard token.utf8.count <= Self.maximumTokenBytes else { throw Self.refusal("token too large") }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw Self.refusal("token malformed: expected three dot-separated parts") }

        guard let headerBytes = Base64URL.decode(parts[0]),
            let header = try? JSONDecoder().decode(Header.self, from: headerBytes)
        else {
            throw Self.refusal("token header malformed")
        }
        guard let algorithm = header.alg else { throw Self.refusal("token algorithm missing") }
        guard algorithm == "ES256" else {
            throw Self.refusal("token algorithm \(String(algorithm.prefix(32)).debugDescription) not accepted")
        }
        guard header.crit == nil else { throw Self.refusal("token critical header extensions not supported") }
        if let kid = header.kid, kid != keyID { throw Self.refusal("token key id not recognised") }

        guard let signatureBytes = Base64URL.decode(parts[2]), signatureBytes.count == 64,
            let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signatureBytes)
        else {
            throw Self.refusal("token signature malformed")
        }
        let signingInput = Data(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard privateKey.publicKey.isValidSignature(signature, for: signingInput) else {
            throw Self.refusal("token signature invalid")
        }

        guard let claimBytes = Base64URL.decode(parts[1]),
            let claims = try? JSONDecoder().decode(Claims.self, from: claimBytes)
        else {
            throw Self.refusal("token claims malformed")
        }
        return try check(claims, audience: audience, now: now.timeIntervalSince1970)
    }

    /// Whether `token` claims to be one of this authority's (its header names this key): its
    /// refusal by `verify` is final, and it is not sent to another authenticator (a Kubernetes
    /// TokenReview would only leak it).
    public func isOwnToken(_ token: String) -> Bool {
        guard token.utf8.count <= Self.maximumTokenBytes, let first = token.split(separator: ".", maxSplits: 1).first,
            let bytes = Base64URL.decode(first), let header = try? JSONDecoder().decode(Header.self, from: bytes)
        else { return false }
        return header.kid == keyID
    }

    /// The claim checks of `verify`, on an authentic token.
    private func check(_ claims: Claims, audience: String, now: Double) throws(CAError) -> (namespace: String, serviceAccount: String) {
        guard claims.iss == issuer else { throw Self.refusal("token issuer not accepted") }
        guard let expiry = claims.exp else { throw Self.refusal("token has no expiry") }
        guard now <= expiry + Self.clockSkew else { throw Self.refusal("token expired") }
        if let notBefore = claims.nbf, now + Self.clockSkew < notBefore { throw Self.refusal("token not yet valid") }
        if let issuedAt = claims.iat, now + Self.clockSkew < issuedAt { throw Self.refusal("token issued in the future") }
        guard claims.aud?.values.contains(audience) == true else {
            throw Self.refusal("token audience does not include \(audience.debugDescription)")
        }
        let subject = (claims.sub ?? "").split(separator: ":", omittingEmptySubsequences: false)
        guard subject.count == 4, subject[0] == "system", subject[1] == "serviceaccount",
            SpiffeID.isValidSegment(String(subject[2])), SpiffeID.isValidSegment(String(subject[3]))
        else {
            throw Self.refusal("token subject is not a valid service account")
        }
        let namespace = String(subject[2])
        let serviceAccount = String(subject[3])
        if let kubernetes = claims.kubernetes {
            guard kubernetes.namespace == namespace, kubernetes.serviceaccount?.name == serviceAccount else {
                throw Self.refusal("token kubernetes.io claim does not match its subject")
            }
        }
        return (namespace, serviceAccount)
    }

    private static func refusal(_ message: String) -> CAError {
        CAError(code: .unauthenticated, message: message)
    }
}

import Crypto
import Foundation
import Testing

@testable import CertificateAuthority

@Suite("TokenAuthority")
struct TokenAuthorityTests {
    let key = P256.Signing.PrivateKey()
    var tokens: TokenAuthority { TokenAuthority(privateKey: key) }

    /// A token with arbitrary header and claims JSON, signed by `sign` over the signing input.
    func forge(header: String, claims: String, sign: (Data) throws -> Data) rethrows -> String {
        let input = Base64URL.encode(Data(header.utf8)) + "." + Base64URL.encode(Data(claims.utf8))
        return input + "." + Base64URL.encode(try sign(Data(input.utf8)))
    }

    func validClaims(now: Date = Date()) -> String {
        let t = Int(now.timeIntervalSince1970)
        return #"{"iss":"meshd","sub":"system:serviceaccount:default:reviews","aud":["istio-ca"],"iat":\#(t),"nbf":\#(t),"exp":\#(t + 600)}"#
    }

    func refusal(_ token: String, audience: String = "istio-ca", now: Date = Date()) -> CAError? {
        let error = #expect(throws: CAError.self) { try tokens.verify(token, audience: audience, now: now) }
        #expect(error?.code == .unauthenticated)
        return error
    }

    @Test("a token it issued verifies to its identity, and has the Kubernetes shape")
    func validTokenVerifies() throws {
        let token = tokens.issue(namespace: "default", serviceAccount: "reviews", ttl: .seconds(600))
        let identity = try tokens.verify(token)
        #expect(identity.namespace == "default" && identity.serviceAccount == "reviews")

        let parts = token.split(separator: ".")
        let header = try JSONSerialization.jsonObject(with: Base64URL.decode(parts[0])!) as! [String: Any]
        #expect(header["alg"] as? String == "ES256" && header["typ"] as? String == "JWT" && header["kid"] is String)
        let claims = try JSONSerialization.jsonObject(with: Base64URL.decode(parts[1])!) as! [String: Any]
        #expect(claims["sub"] as? String == "system:serviceaccount:default:reviews")
        #expect(claims["aud"] as? [String] == ["istio-ca"])
        let kubernetes = claims["kubernetes.io"] as? [String: Any]
        #expect(kubernetes?["namespace"] as? String == "default")
        #expect((kubernetes?["serviceaccount"] as? [String: Any])?["name"] as? String == "reviews")
    }

    @Test("an expired token is refused (beyond the 60 s skew)")
    func expiredTokenRefused() {
        let issuedAt = Date().addingTimeInterval(-3600)
        let token = tokens.issue(namespace: "default", serviceAccount: "reviews", ttl: .seconds(600), now: issuedAt)
        #expect(refusal(token)?.message == "token expired")
        // Within the skew it still passes.
        #expect((try? tokens.verify(token, now: issuedAt.addingTimeInterval(630))) != nil)
    }

    @Test("a token signed by another key is refused")
    func otherKeyRefused() throws {
        let stranger = TokenAuthority(privateKey: P256.Signing.PrivateKey())
        let token = stranger.issue(namespace: "default", serviceAccount: "reviews", ttl: .seconds(600))
        #expect(refusal(token)?.message == "token key id not recognised")
        // Without a kid the signature check itself refuses it.
        let noKid = try forge(header: #"{"alg":"ES256","typ":"JWT"}"#, claims: validClaims()) { input in
            try P256.Signing.PrivateKey().signature(for: input).rawRepresentation
        }
        #expect(refusal(noKid)?.message == "token signature invalid")
    }

    @Test("alg none with an empty signature is refused")
    func algNoneRefused() {
        let token = forge(header: #"{"alg":"none","typ":"JWT"}"#, claims: validClaims()) { _ in Data() }
        #expect(token.hasSuffix("."))
        #expect(refusal(token)?.message == #"token algorithm "none" not accepted"#)
    }

    @Test("HS256 keyed with our public key (the algorithm-confusion attack) is refused")
    func hs256Refused() {
        let token = forge(header: #"{"alg":"HS256","typ":"JWT"}"#, claims: validClaims()) { input in
            Data(HMAC<SHA256>.authenticationCode(for: input, using: SymmetricKey(data: key.publicKey.derRepresentation)))
        }
        #expect(refusal(token)?.message == #"token algorithm "HS256" not accepted"#)
    }

    @Test("a token for another audience is refused")
    func wrongAudienceRefused() {
        let token = tokens.issue(namespace: "default", serviceAccount: "reviews", ttl: .seconds(600), audience: "kubernetes")
        #expect(refusal(token)?.message == #"token audience does not include "istio-ca""#)
    }

    @Test("malformed tokens and subjects that smuggle path segments are refused")
    func malformedRefused() {
        #expect(refusal("")?.message.contains("malformed") == true)
        #expect(refusal("a.b")?.message.contains("malformed") == true)
        let sneaky = tokens.issue(namespace: "default/sa/admin", serviceAccount: "x", ttl: .seconds(600))
        #expect(refusal(sneaky)?.message == "token subject is not a valid service account")
    }

    @Test("the signing key and admin token persist with mode 0600")
    func persistedSecrets() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try TokenAuthority.loadOrCreate(directory: directory.url)
        let second = try TokenAuthority.loadOrCreate(directory: directory.url)
        _ = try second.verify(first.issue(namespace: "default", serviceAccount: "reviews", ttl: .seconds(60)))
        let admin = try AdminToken.loadOrCreate(directory: directory.url)
        #expect(try AdminToken.loadOrCreate(directory: directory.url) == admin)
        #expect(Base64URL.decode(admin)?.count == 32)
        for name in ["token-signing-key.pem", "admin-token"] {
            #expect(try FileManager.default.attributesOfItem(atPath: directory.file(name).path)[.posixPermissions] as! Int == 0o600)
        }
    }
}

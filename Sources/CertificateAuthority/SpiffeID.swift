/// A workload identity in Istio's SPIFFE form: `spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT`.
///
/// This is what the CA writes as the only URI SAN of a workload certificate and what it reads back
/// from a peer certificate. The memberwise initialiser does not validate (so callers can build one
/// from trusted parts cheaply); `LocalCertificateAuthority` refuses to sign for an identity whose
/// parts are not valid SPIFFE path segments, and `init?(uri:)` accepts only valid ones.
public struct SpiffeID: Sendable, Hashable, CustomStringConvertible {
    /// The trust domain, for example `cluster.local`.
    public var trustDomain: String
    /// The workload's namespace.
    public var namespace: String
    /// The workload's service account.
    public var serviceAccount: String

    /// Creates an identity from its parts, without validating them.
    public init(trustDomain: String, namespace: String, serviceAccount: String) {
        self.trustDomain = trustDomain
        self.namespace = namespace
        self.serviceAccount = serviceAccount
    }

    /// Parses `spiffe://TD/ns/NS/sa/SA` exactly; anything else (another path shape, a port, a query,
    /// upper-case trust domain, empty or dot segments) returns nil.
    public init?(uri: String) {
        let prefix = "spiffe://"
        guard uri.hasPrefix(prefix) else { return nil }
        let parts = uri.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[1] == "ns", parts[3] == "sa" else { return nil }
        let id = SpiffeID(trustDomain: String(parts[0]), namespace: String(parts[2]), serviceAccount: String(parts[4]))
        guard id.isValid else { return nil }
        self = id
    }

    /// The URI form, `spiffe://TD/ns/NS/sa/SA`.
    public var uri: String { "spiffe://\(trustDomain)/ns/\(namespace)/sa/\(serviceAccount)" }

    /// The URI form.
    public var description: String { uri }

    /// Whether every part is valid per the SPIFFE ID spec, so `uri` parses back to the same value
    /// and no part can smuggle in a `/`, `..` or a URI delimiter.
    var isValid: Bool {
        Self.isValidTrustDomain(trustDomain) && Self.isValidSegment(namespace) && Self.isValidSegment(serviceAccount)
    }

    /// Throws `invalidArgument` naming the bad part, for the signing path.
    func validate() throws(CAError) {
        guard Self.isValidTrustDomain(trustDomain) else {
            throw CAError(code: .invalidArgument, message: "identity trust domain \"\(trustDomain)\" is not a valid SPIFFE trust domain")
        }
        guard Self.isValidSegment(namespace) else {
            throw CAError(code: .invalidArgument, message: "identity namespace \"\(namespace)\" is not a valid SPIFFE path segment")
        }
        guard Self.isValidSegment(serviceAccount) else {
            throw CAError(code: .invalidArgument, message: "identity service account \"\(serviceAccount)\" is not a valid SPIFFE path segment")
        }
    }

    /// SPIFFE: lower-case letters, digits, `.`, `-`, `_`; at most 255 bytes.
    static func isValidTrustDomain(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.count <= 255
            && value.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            }
    }

    /// SPIFFE: letters, digits, `.`, `-`, `_`; not empty, not `.` or `..`. The length cap keeps the
    /// whole URI under the spec's 2048-byte limit.
    static func isValidSegment(_ value: String) -> Bool {
        guard !value.isEmpty, value != ".", value != "..", value.utf8.count <= 253 else { return false }
        return value.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
    }
}

/// The one error type of the CertificateAuthority module.
///
/// `code` is coarse enough for the gRPC boundary to map it to a status (`CertificateService` does);
/// `message` is one human line that names the file, field or claim at fault and never contains a
/// credential (no token, no key material), so it is safe to log and to return to the caller.
public struct CAError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, coarse enough for a status mapping.
    public enum Code: String, Sendable {
        /// The caller could not be authenticated (missing, malformed, expired or forged credential).
        case unauthenticated
        /// The request itself is unusable: a malformed CSR, a bad CSR signature, a weak key, a TTL
        /// outside policy, a malformed identity.
        case invalidArgument
        /// The caller is authenticated but may not have what it asked for (for example a certificate
        /// for another trust domain, or signing on the plaintext port).
        case permissionDenied
        /// The CA itself is broken: unreadable or inconsistent key material, a failed signature.
        case internalError
    }

    /// The coarse category.
    public var code: Code
    /// A one-line message naming what is at fault; never contains a credential.
    public var message: String
    /// The underlying error, if any (an I/O error, an ASN.1 parse error).
    public var cause: (any Error)?

    /// Creates an error.
    public init(code: Code, message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// `message`, followed by the cause when there is one.
    public var description: String {
        if let cause { return "\(message): \(cause)" }
        return message
    }
}

import Foundation

/// The bearer token that authenticates non-loopback callers of the admin REST API.
public enum AdminToken {
    /// The file the token is kept in.
    static let file = "admin-token"

    /// Loads the token from `directory/admin-token`, creating it on first start: 32 random bytes
    /// (system CSPRNG) as unpadded base64url, written with mode 0600 in a directory created 0700.
    ///
    /// Surrounding whitespace in the file is ignored so operators may write their own token with
    /// `echo`; an empty file is an `internalError` rather than an empty (guessable) token.
    public static func loadOrCreate(directory: URL) throws(CAError) -> String {
        try SecureFileStore.ensureDirectory(directory)
        let url = directory.appendingPathComponent(file)
        if let text = try SecureFileStore.read(url) {
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw CAError(code: .internalError, message: "\(url.path) is empty") }
            return token
        }
        var generator = SystemRandomNumberGenerator()
        let token = Base64URL.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try SecureFileStore.writeFile(token + "\n", to: url, mode: 0o600)
        return token
    }
}

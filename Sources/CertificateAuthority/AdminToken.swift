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
        let token = generate()
        try write(token, directory: directory)
        return token
    }

    /// A new token: 32 random bytes (system CSPRNG) as unpadded base64url.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// Writes `token` to `directory/admin-token` (mode 0600, replacing the file atomically), so
    /// meshctl on this machine finds the token of a cluster whose token lives elsewhere (etcd).
    public static func write(_ token: String, directory: URL) throws(CAError) {
        try SecureFileStore.ensureDirectory(directory)
        try SecureFileStore.writeFile(token + "\n", to: directory.appendingPathComponent(file), mode: 0o600)
    }
}

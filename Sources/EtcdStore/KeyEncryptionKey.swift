import Crypto
import Foundation

/// The key-encryption key every replica is started with (`--kek-file`): 32 raw random bytes
/// that seal the cluster's secrets (CA root key, token-signing key, admin token) before they go
/// to etcd, with AES-256-GCM. No key byte is ever stored in etcd in the clear.
public struct KeyEncryptionKey: Sendable {
    let key: SymmetricKey

    /// Problems with a `--kek-file`, each with the message meshd refuses to start with.
    public struct LoadError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Wraps raw key bytes (exactly 32).
    public init(bytes: [UInt8]) throws(LoadError) {
        guard bytes.count == 32 else {
            throw LoadError(description: "a key-encryption key is exactly 32 bytes, not \(bytes.count)")
        }
        key = SymmetricKey(data: bytes)
    }

    /// Reads `path`: it must hold exactly 32 raw bytes (e.g. `head -c 32 /dev/urandom > FILE;
    /// chmod 600 FILE`) and be readable by its owner only — a key others can read seals nothing.
    public static func load(path: String) throws(LoadError) -> KeyEncryptionKey {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw LoadError(description: "--kek-file \(path): cannot be read (\(String(cString: strerror(errno))))")
        }
        guard (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFREG) else {
            throw LoadError(description: "--kek-file \(path): not a regular file")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw LoadError(
                description: "--kek-file \(path): group or others may access it (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadError(description: "--kek-file \(path): cannot be read")
        }
        do {
            return try KeyEncryptionKey(bytes: Array(data))
        } catch {
            throw LoadError(description: "--kek-file \(path): \(error.description) (make one with: head -c 32 /dev/urandom > FILE)")
        }
    }

    /// AES-256-GCM of `plaintext`, bound to `context` (authenticated, not encrypted): nonce,
    /// ciphertext and tag as one blob.
    public func seal(_ plaintext: [UInt8], context: [UInt8]) throws -> [UInt8] {
        Array(try AES.GCM.seal(plaintext, using: key, authenticating: context).combined!)
    }

    /// Opens what `seal` made with the same key and context; throws when either differs.
    public func open(_ sealed: [UInt8], context: [UInt8]) throws -> [UInt8] {
        Array(try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key, authenticating: context))
    }
}

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads and writes the CA's small secret files (keys, tokens) with tight permissions.
///
/// Why not `String.write(to:atomically:)`: it creates the file with the process umask (typically
/// 0644) and only then could we chmod it, leaving a window in which a private key is world-readable.
/// Here the file is created with `O_EXCL` and its final mode in one `open(2)`, fsynced, then renamed
/// into place, so a crash leaves either no file or a complete one.
enum SecureFileStore {
    /// Creates `directory` (and missing parents) with mode 0700. An existing directory is left as it is:
    /// it may be an operator-managed mount whose permissions are theirs to choose.
    static func ensureDirectory(_ directory: URL) throws(CAError) {
        do {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw CAError(code: .internalError, message: "cannot create directory \(directory.path)", cause: error)
        }
    }

    /// The file's text, or nil when it does not exist.
    static func read(_ url: URL) throws(CAError) -> String? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do {
            return try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw CAError(code: .internalError, message: "cannot read \(url.path)", cause: error)
        }
    }

    /// The file's text; a missing file is an `internalError` naming it.
    static func readRequired(_ url: URL) throws(CAError) -> String {
        guard let text = try read(url) else {
            throw CAError(code: .internalError, message: "\(url.path) does not exist")
        }
        return text
    }

    /// Writes `contents` to `url` with `mode`, replacing any existing file atomically.
    static func writeFile(_ contents: String, to url: URL, mode: mode_t) throws(CAError) {
        let directory = url.deletingLastPathComponent()
        let suffix = (0..<8).map { _ in String(UInt8.random(in: 0...255), radix: 16) }.joined()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).tmp-\(suffix)")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else { throw posixError("cannot create \(temporary.path)") }
        var bytes = Array(contents.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeMutableBytes { buffer in
                write(fd, buffer.baseAddress! + written, buffer.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                let error = posixError("cannot write \(temporary.path)")
                close(fd)
                unlink(temporary.path)
                throw error
            }
            written += result
        }
        bytes.removeAll()
        // The mode given to open(2) is filtered by the umask; set it explicitly so 0600 means 0600
        // and a 0644 certificate is not narrowed by a strict umask either.
        guard fchmod(fd, mode) == 0, fsync(fd) == 0 else {
            let error = posixError("cannot finish \(temporary.path)")
            close(fd)
            unlink(temporary.path)
            throw error
        }
        close(fd)
        guard rename(temporary.path, url.path) == 0 else {
            let error = posixError("cannot move \(temporary.path) to \(url.path)")
            unlink(temporary.path)
            throw error
        }
        // Make the rename itself durable, so a power loss cannot bring back the old (or no) file.
        let directoryFD = open(directory.path, O_RDONLY)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }

    private static func posixError(_ message: String) -> CAError {
        let code = errno
        return CAError(
            code: .internalError, message: message,
            cause: POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO))
    }
}

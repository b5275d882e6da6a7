import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Publishes a set of files into a directory so that readers only ever see a complete set:
/// the layout Kubernetes' atomic writer uses for Secret and projected volumes.
///
/// ```
/// DIR/..2026_11_26_23_40_01-3f9c2a7e/{cert-chain.pem,key.pem,root-cert.pem}   this generation
/// DIR/..data -> ..2026_11_26_23_40_01-3f9c2a7e                                 swapped atomically
/// DIR/cert-chain.pem -> ..data/cert-chain.pem                                  stable names
/// ```
/// Each generation is written and fsynced in a fresh hidden directory, then `..data` is
/// replaced in one `rename(2)` of a symlink; the stable names never change, so anyone opening
/// `DIR/key.pem` gets the old or the new key, never half of one, and the certificate beside it
/// from the same generation. The previous generation is removed afterwards.
///
/// Not safe to use from two processes on one directory at once (neither is Kubernetes');
/// one mesh-agent owns its `--output-dir`.
struct AtomicDirectoryWriter: Sendable {
    /// The symlink that names the current generation.
    static let dataLink = "..data"
    /// Where the next `..data` link is built before it is renamed over the current one.
    static let dataTemporaryLink = "..data_tmp"

    /// The directory readers are pointed at.
    let directory: String

    /// Publishes `files` as the new generation, with each file's permission bits exactly `mode`.
    ///
    /// On failure before the swap nothing visible changes; the half-written generation is
    /// removed (or, after a crash, by the next call).
    func publish(_ files: [(name: String, contents: String, mode: Int)]) throws {
        try makeDirectory(directory, mode: 0o755, existingIsFine: true)

        let generation = Self.generationName()
        let generationPath = path(generation)
        try makeDirectory(generationPath, mode: 0o755, existingIsFine: false)
        do {
            for file in files {
                try writeFile(
                    path: (generationPath as NSString).appendingPathComponent(file.name),
                    contents: file.contents, mode: file.mode)
            }
            try syncDirectory(generationPath)
        } catch {
            try? FileManager.default.removeItem(atPath: generationPath)
            throw error
        }

        // The swap: a new symlink renamed over the old one is atomic; rewriting a link is not.
        try replaceSymlink(at: path(Self.dataLink), target: generation, via: path(Self.dataTemporaryLink))
        for file in files {
            try ensureStableLink(file.name)
        }
        try syncDirectory(directory)
        removeStaleGenerations(keeping: generation)
    }

    // MARK: Steps

    /// `..2026_11_26_23_40_01-3f9c2a7e`: a UTC timestamp so `ls -a` shows the history, plus a
    /// random suffix so two writes in one second never collide.
    static func generationName(now: Date = Date()) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: now)
        let stamp = [c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0, c.second ?? 0]
            .enumerated()
            .map { index, value in index == 0 ? String(value) : (value < 10 ? "0\(value)" : String(value)) }
            .joined(separator: "_")
        let suffix = String(UInt32.random(in: .min ... .max), radix: 16)
        return "..\(stamp)-\(String(repeating: "0", count: 8 - suffix.count))\(suffix)"
    }

    /// `DIR/NAME -> ..data/NAME`; an existing correct link is left alone, anything else at that
    /// path (a regular file from an older layout, a wrong link) is replaced atomically.
    private func ensureStableLink(_ name: String) throws {
        let target = "\(Self.dataLink)/\(name)"
        let linkPath = path(name)
        if let existing = try? FileManager.default.destinationOfSymbolicLink(atPath: linkPath), existing == target {
            return
        }
        try replaceSymlink(at: linkPath, target: target, via: path(".\(name).tmp"))
    }

    /// Creates `temporary -> target` and renames it to `link`, replacing whatever link or file
    /// was there in one step.
    private func replaceSymlink(at link: String, target: String, via temporary: String) throws {
        if unlink(temporary) != 0 && errno != ENOENT {
            throw Self.failure("cannot remove stale \(temporary)")
        }
        guard symlink(target, temporary) == 0 else {
            throw Self.failure("cannot create symlink \(temporary)")
        }
        guard rename(temporary, link) == 0 else {
            let error = Self.failure("cannot rename \(temporary) to \(link)")
            _ = unlink(temporary)
            throw error
        }
    }

    /// Removes every hidden generation directory except `keeping`, including leftovers of a
    /// crash between writing and swapping. Failures only leave garbage, so they are ignored.
    private func removeStaleGenerations(keeping generation: String) {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for entry in entries where entry.hasPrefix("..") && entry != generation {
            let entryPath = path(entry)
            var info = stat()
            // lstat, so the `..data` link itself is never followed into the live generation.
            guard lstat(entryPath, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { continue }
            try? FileManager.default.removeItem(atPath: entryPath)
        }
    }

    // MARK: POSIX helpers

    private func path(_ name: String) -> String {
        (directory as NSString).appendingPathComponent(name)
    }

    private func makeDirectory(_ path: String, mode: mode_t, existingIsFine: Bool) throws {
        if existingIsFine {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else { throw AgentError(.output, "\(path) exists and is not a directory") }
                return
            }
            do {
                try FileManager.default.createDirectory(
                    atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: Int(mode)])
            } catch {
                throw AgentError(.output, "cannot create directory \(path): \(error.localizedDescription)", cause: error)
            }
            return
        }
        guard mkdir(path, mode) == 0 else { throw Self.failure("cannot create directory \(path)") }
    }

    /// Writes a new file with exactly `mode` (fchmod, so the umask cannot loosen or tighten it)
    /// and fsyncs it, so the swap never publishes a file whose bytes are still in flight.
    private func writeFile(path: String, contents: String, mode: Int) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw Self.failure("cannot create \(path)") }
        defer { _ = close(fd) }
        guard fchmod(fd, mode_t(mode)) == 0 else { throw Self.failure("cannot set the mode of \(path)") }
        let bytes = Array(contents.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { buffer in
                write(fd, buffer.baseAddress, buffer.count)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw Self.failure("cannot write \(path)")
            }
            offset += written
        }
        guard fsync(fd) == 0 else { throw Self.failure("cannot sync \(path)") }
    }

    /// fsyncs a directory so the entries just created or renamed in it survive a crash.
    private func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.failure("cannot open directory \(path)") }
        defer { _ = close(fd) }
        guard fsync(fd) == 0 else { throw Self.failure("cannot sync directory \(path)") }
    }

    /// An output error carrying `strerror(errno)`; call right after the failing system call.
    private static func failure(_ what: String) -> AgentError {
        let code = errno
        return AgentError(.output, "\(what): \(String(cString: strerror(code)))")
    }
}

import Foundation
import Logging
import MeshCommon

/// Where meshd keeps its state when `--data-dir` is not given, so that `meshd` alone just works.
enum DataDirectory {
    /// The directory for `--data-dir` (`DataDirectoryRule`, which meshctl shares).
    static func resolve(_ flag: String?) -> URL {
        DataDirectoryRule.resolve(flag)
    }

    /// Creates `directory` with mode 0700, or tightens an existing one that other users could
    /// read or enter: it holds the CA key, the token-signing key, the admin token and the store.
    ///
    /// A directory meshd does not own (a volume whose mode an orchestrator sets) cannot be
    /// tightened; that is logged, not fatal, since the secret files inside are 0600 anyway.
    static func prepare(_ directory: URL, logger: Logger) throws {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
            try manager.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            // createDirectory's mode is filtered by the umask; 0700 is meant exactly.
            try manager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
            return
        }
        guard isDirectory.boolValue else {
            throw CocoaError(.fileWriteFileExists, userInfo: [NSFilePathErrorKey: directory.path])
        }
        let mode = (try manager.attributesOfItem(atPath: directory.path)[.posixPermissions] as? NSNumber)?.uint16Value ?? 0
        guard mode & 0o077 != 0 else { return }
        do {
            try manager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
            logger.notice(
                "data directory tightened to mode 0700",
                metadata: ["data_dir": "\(directory.path)", "was": "\(String(mode & 0o7777, radix: 8))"])
        } catch {
            logger.warning(
                "data directory is accessible to other users and cannot be tightened to 0700",
                metadata: [
                    "data_dir": "\(directory.path)", "mode": "\(String(mode & 0o7777, radix: 8))",
                    "error": "\(error)",
                ])
        }
    }
}

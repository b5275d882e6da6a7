import Foundation

/// Where meshd keeps its state when no `--data-dir` is given, the one rule meshd (which writes
/// there) and meshctl (which reads the admin token there) share: the flag, else
/// `$MESHD_DATA_DIR`, else `/var/lib/meshd` for root, else `~/.local/share/meshd`.
public enum DataDirectoryRule {
    /// The directory for `flag` (nil or empty: not given) in this process's environment.
    public static func resolve(_ flag: String?) -> URL {
        if let flag, !flag.isEmpty { return URL(fileURLWithPath: flag) }
        if let env = ProcessInfo.processInfo.environment["MESHD_DATA_DIR"], !env.isEmpty { return URL(fileURLWithPath: env) }
        if getuid() == 0 { return URL(fileURLWithPath: "/var/lib/meshd") }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share/meshd")
    }
}

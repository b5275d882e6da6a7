import Foundation

/// Where meshd keeps its state when `--data-dir` is not given, so that `meshd` alone just works.
enum DataDirectory {
    static func resolve(_ flag: String?) -> URL {
        if let flag, !flag.isEmpty { return URL(fileURLWithPath: flag) }
        if let env = ProcessInfo.processInfo.environment["MESHD_DATA_DIR"], !env.isEmpty { return URL(fileURLWithPath: env) }
        if getuid() == 0 { return URL(fileURLWithPath: "/var/lib/meshd") }
        let home = FileManager.default.homeDirectoryForCurrentUser
        return home.appendingPathComponent(".local/share/meshd")
    }
}

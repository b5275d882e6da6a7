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

/// Parses durations given on the command line: `100ms`, `2s`, `1m`.
enum DurationFlag {
    static func parse(_ text: String) -> Duration? {
        let units: [(String, (Int64) -> Duration)] = [("ms", { .milliseconds($0) }), ("s", { .seconds($0) }), ("m", { .seconds($0 * 60) })]
        for (suffix, make) in units where text.hasSuffix(suffix) {
            guard let value = Int64(text.dropLast(suffix.count)), value >= 0 else { return nil }
            return make(value)
        }
        return nil
    }
}

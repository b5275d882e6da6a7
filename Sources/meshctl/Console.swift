import Foundation

/// Where meshctl writes: results to stdout, everything a script should not parse to stderr.
enum Console {
    /// Writes `text` to stdout exactly (no newline added).
    static func out(_ text: String) {
        print(text, terminator: "")
    }

    /// Writes one line to stderr.
    static func err(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// `Warning: <text>` on stderr, as kubectl prints server warnings.
    static func warning(_ text: String) {
        err("Warning: \(text)")
    }

    /// `Error: <text>` on stderr, for failures that do not stop the command at once.
    static func error(_ text: String) {
        err("Error: \(text)")
    }
}

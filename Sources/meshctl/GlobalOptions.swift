import ArgumentParser
import Foundation

/// Options every command shares: where meshd's admin API is and how to authenticate to it.
///
/// Declared once on the root command; subcommands reach them through `@ParentCommand`, so
/// `meshctl --server URL get vs` and `meshctl get vs --server URL` both work.
struct GlobalOptions: ParsableArguments {
    /// The admin API address used when neither `--server` nor `MESHCTL_SERVER` is given:
    /// meshd's default admin port on loopback, where it trusts callers without a token.
    static let defaultServer = "http://127.0.0.1:15014"

    @Option(help: ArgumentHelp(
        "meshd admin API base URL (default: $MESHCTL_SERVER or \(GlobalOptions.defaultServer)).",
        valueName: "url"))
    var server: String?

    @Option(help: ArgumentHelp(
        "Bearer token sent to meshd (default: $MESHCTL_TOKEN).", valueName: "token"))
    var token: String?

    /// The base URL to talk to, without a trailing slash, after applying the environment default.
    var resolvedServer: String {
        let raw = server ?? ProcessInfo.processInfo.environment["MESHCTL_SERVER"] ?? Self.defaultServer
        var trimmed = raw.trimmingCharacters(in: .whitespaces)
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        // A bare host:port is what people type; assume plain HTTP as for the loopback default.
        return trimmed.contains("://") ? trimmed : "http://" + trimmed
    }

    /// The token to send, if any; an empty value means none so `MESHCTL_TOKEN=` can switch it off.
    var resolvedToken: String? {
        let value = token ?? ProcessInfo.processInfo.environment["MESHCTL_TOKEN"]
        guard let value, !value.isEmpty else { return nil }
        return value
    }

    mutating func validate() throws {
        let url = resolvedServer
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
              scheme == "http" || scheme == "https", parsed.host?.isEmpty == false
        else {
            throw ValidationError("invalid server URL '\(url)': expected http(s)://HOST[:PORT]")
        }
    }
}

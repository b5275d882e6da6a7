import ArgumentParser
import Foundation
import MeshCommon

/// Options every command shares: where meshd's admin API is and how to authenticate to it.
///
/// Declared once on the root command; subcommands reach them through `@ParentCommand`, so
/// `meshctl --server URL get vs` and `meshctl get vs --server URL` both work.
struct GlobalOptions: ParsableArguments {
    /// The admin API address used when neither `--server` nor `MESHCTL_SERVER` is given:
    /// meshd's default admin port on loopback, where it trusts callers without a token.
    static let defaultServer = "http://127.0.0.1:\(MeshDefaults.adminPort)"

    @Option(
        help: ArgumentHelp(
            "meshd admin API base URL (default: $MESHCTL_SERVER or \(GlobalOptions.defaultServer)).",
            valueName: "url"))
    var server: String?

    @Option(
        help: ArgumentHelp(
            "Bearer token sent to meshd (default: $MESHCTL_TOKEN, else the admin-token file in --data-dir).",
            valueName: "token"))
    var token: String?

    @Option(
        help: ArgumentHelp(
            "meshd's data directory, where it writes admin-token (default: $MESHD_DATA_DIR, else /var/lib/meshd as root, else ~/.local/share/meshd).",
            valueName: "dir"))
    var dataDir: String?

    /// The base URL to talk to, without a trailing slash, after applying the environment default.
    var resolvedServer: String {
        let raw = server ?? ProcessInfo.processInfo.environment["MESHCTL_SERVER"] ?? Self.defaultServer
        var trimmed = raw.trimmingCharacters(in: .whitespaces)
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        // A bare host:port is what people type; assume plain HTTP as for the loopback default.
        return trimmed.contains("://") ? trimmed : "http://" + trimmed
    }

    /// The token to send, if any: `--token`, else `$MESHCTL_TOKEN`, else the admin token meshd
    /// wrote into its data directory when this user can read it.
    ///
    /// An explicitly empty value means none, so `MESHCTL_TOKEN=` switches off the file as well.
    var resolvedToken: String? {
        if let value = token ?? ProcessInfo.processInfo.environment["MESHCTL_TOKEN"] {
            return value.isEmpty ? nil : value
        }
        // The file is meshd's on this machine: never hand it to another host (it would travel
        // in clear over http:// and is not that host's token anyway).
        return serverIsLocal ? adminTokenFromFile() : nil
    }

    /// Whether `--server` names this machine (loopback), the only place the data-dir token belongs.
    var serverIsLocal: Bool {
        guard let host = URLComponents(string: resolvedServer)?.host else { return false }
        return Self.isLoopbackHost(host)
    }

    /// Whether a URL host is a loopback form: `localhost`, an IPv4 literal in 127.0.0.0/8, or
    /// `::1` (bracketed or not).
    ///
    /// Literals are parsed strictly (`IPAddressSyntax`), never matched by prefix: `127.0.0.1.evil.example`
    /// is a DNS name anyone can point anywhere, and `127.1` is a name, not an address.
    static func isLoopbackHost(_ host: String) -> Bool {
        var host = host.lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" { return true }
        return IPAddressSyntax.isLoopback(host)
    }

    /// meshd's data directory as meshd itself resolves it (`DataDirectoryRule`): the flag,
    /// else `$MESHD_DATA_DIR`, else `/var/lib/meshd` for root, else `~/.local/share/meshd`.
    var resolvedDataDirectory: String {
        DataDirectoryRule.resolve(dataDir).path
    }

    /// `DATA_DIR/admin-token`, trimmed; nil when it is missing, unreadable or empty. Silent on
    /// purpose: most callers are on loopback, which needs no token, and must not see a warning.
    private func adminTokenFromFile() -> String? {
        let path = (resolvedDataDirectory as NSString).appendingPathComponent("admin-token")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return token.isEmpty ? nil : token
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

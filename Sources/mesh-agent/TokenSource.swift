import Foundation

/// Where the agent's bearer token comes from (`meshctl token create` issues it).
///
/// A file is re-read before every issuance rather than once at start: projected service-account
/// tokens and secret mounts are rotated in place, and the agent outlives many of them.
enum TokenSource: Sendable, Equatable {
    /// No token: only possible while a still-valid certificate authenticates renewal (mTLS).
    case none
    /// `--token` or `MESH_AGENT_TOKEN`.
    case literal(String)
    /// `--token-file`.
    case file(String)

    /// The token to send now, or nil for `.none`. A file that is empty or unreadable is an
    /// error: sending no token would only earn a less helpful UNAUTHENTICATED from meshd.
    func current() throws -> String? {
        switch self {
        case .none:
            return nil
        case .literal(let token):
            return token
        case .file(let path):
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw AgentError(.configuration, "cannot read token file \(path): \(error.localizedDescription)", cause: error)
            }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw AgentError(.configuration, "token file \(path) is empty") }
            return token
        }
    }
}

/// What one kind of client makes of a field meshd translates.
public enum FieldSupport: Sendable, Hashable {
    /// Sent and honoured as Istio means it.
    case honoured
    /// Something close is sent instead; the text says what (for the warning and the docs).
    case substituted(String)
    /// Accepted and validated, but the client cannot honour it: nothing is sent.
    case notHonoured
    /// As `notHonoured`, with the reason the warning gives (what the client lacks).
    case notHonouredBecause(String)

    /// The apply warning for a field with this support by `kinds`; nil when honoured.
    public func warning(for kinds: [ProxyKind]) -> String? {
        switch self {
        case .honoured: nil
        case .substituted(let how): "substituted for \(ProxyKind.displayName(of: kinds)): \(how)"
        case .notHonoured: "not honoured by \(ProxyKind.displayName(of: kinds))"
        case .notHonouredBecause(let why): "not honoured by \(ProxyKind.displayName(of: kinds)): \(why)"
        }
    }
}

/// Why observed traffic could not be answered.
public enum ObservedTrafficError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The caller asked for something malformed (a bad window).
    case badRequest(String)
    /// Prometheus is not configured, cannot be reached, or answered with an error.
    case unavailable(String)

    public var description: String {
        switch self {
        case .badRequest(let message), .unavailable(let message): message
        }
    }
}

import GRPCCore

/// The one error type of mesh-agent: a code for the renewal loop to branch on, a one-line
/// message for people, and the underlying cause for debugging.
///
/// `description` is what ArgumentParser prints after `Error: ` in `--once` mode, so a failed
/// call reads `Error: UNAUTHENTICATED: token expired` — the gRPC status first, as grpcurl and
/// istio-agent print it, because that is what an operator greps for.
struct AgentError: Error, CustomStringConvertible {
    /// What went wrong, coarsely.
    enum Code: Sendable, Equatable {
        /// meshd (or the network on the way) answered the CreateCertificate call with this gRPC
        /// status, by its canonical name (`UNAVAILABLE`, `UNAUTHENTICATED`, ...).
        case rpc(status: String)
        /// meshd answered OK but the chain is unusable (empty, not PEM, not for our key).
        case badResponse
        /// A local input (flag, token file, root certificate) cannot be used.
        case configuration
        /// Writing the output directory failed.
        case output
    }

    /// What went wrong, coarsely.
    let code: Code
    /// The one-line human form.
    let message: String
    /// The underlying error, kept for debugging; never printed on its own.
    let cause: (any Error)?

    init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    var description: String {
        if case .rpc(let status) = code { return "\(status): \(message)" }
        return message
    }

    /// The gRPC status name when the failure came from the call, else nil.
    var status: String? {
        if case .rpc(let status) = code { return status }
        return nil
    }

    /// Wraps a failed RPC, keeping the transport's cause in the message: for `UNAVAILABLE` the
    /// cause (refused connection, failed TLS handshake) is the only useful part.
    init(rpc error: RPCError) {
        var message = error.message
        if let cause = error.cause {
            message += " (\(Self.flatten(cause)))"
        }
        self.init(.rpc(status: Self.canonicalName(error.code)), message, cause: error)
    }

    /// gRPC's canonical upper-case status names, indexed by status number.
    private static let statusNames = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED",
    ]

    private static func canonicalName(_ code: RPCError.Code) -> String {
        statusNames.indices.contains(code.rawValue) ? statusNames[code.rawValue] : "STATUS_\(code.rawValue)"
    }

    /// A cause on one line: nested RPC errors print their message rather than their debug form.
    private static func flatten(_ error: any Error) -> String {
        if let rpc = error as? RPCError {
            return rpc.cause.map { "\(rpc.message): \(flatten($0))" } ?? rpc.message
        }
        return String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

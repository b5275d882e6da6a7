/// The one error type of meshctl: a code for callers that branch, a one-line message for people.
///
/// `description` is the message alone, because ArgumentParser prints an unknown error as
/// `Error: <description>` on stderr and exits 1 — exactly the contract meshctl promises.
struct MeshctlError: Error, CustomStringConvertible {
    /// What went wrong, coarsely.
    enum Code: Sendable, Equatable {
        /// meshd answered with a non-2xx status; the message is its `error.detail`, and
        /// `apiCode` its `error.code` (`notFound`, `invalid`, ...) when it sent one.
        case server(status: UInt, apiCode: String?)
        /// meshd could not be reached at all (refused, timed out, bad address).
        case unreachable
        /// meshd answered 2xx but with a body meshctl cannot read.
        case badResponse
        /// A local input (file, directory, stdin, argument) could not be used.
        case input
    }

    /// What went wrong, coarsely.
    let code: Code
    /// The one-line human form that is printed after `Error: `.
    let message: String
    /// The underlying error, kept for debugging; never printed on its own.
    let cause: (any Error)?

    init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    var description: String { message }

    /// Whether meshd answered 404: the resource (or proxy) does not exist.
    var isNotFound: Bool {
        if case .server(status: 404, _) = code { return true }
        return false
    }
}

import MeshModel

/// The one error type of the Storage module.
///
/// `code` tells the boundary (HTTP, gRPC) how to map it; `message` names the resource when there is one.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, coarse enough for a status mapping.
    public enum Code: String, Sendable {
        /// The resource does not exist.
        case notFound
        /// The database could not be opened, migrated, read or written.
        case database
    }

    /// The coarse category.
    public var code: Code
    /// A one-line human message naming the resource where there is one.
    public var message: String
    /// The underlying error, if any (a GRDB `DatabaseError`, an I/O error).
    public var cause: (any Error)?

    /// Creates an error.
    public init(code: Code, message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(message): \(cause)" }
        return message
    }
}

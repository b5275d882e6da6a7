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
        /// The store cannot be reached, or cannot commit (etcd without quorum); nothing changed.
        case unavailable
        /// The change exceeds a limit of the store (etcd's `--max-txn-ops`, `--max-request-bytes`);
        /// the message names the limit; nothing changed.
        case tooLarge
        /// Concurrent writers kept changing the same resources; nothing changed, retry.
        case conflict
    }

    /// The coarse category.
    public var code: Code
    /// A one-line human message naming the resource where there is one.
    public var message: String
    /// The underlying error, if any (a GRDB `DatabaseError`, a gRPC error from etcd, an I/O error).
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

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
        /// A resource is not as the writer expected (`metadata.resourceVersion`, `resource` and
        /// `field` set), or concurrent writers kept changing the same resources; nothing changed.
        case conflict
        /// The revision asked for is older than the history kept; nothing changed.
        case historyPruned
        /// The store does not take the change as it is (a kind it does not hold; an object the
        /// Kubernetes API server or its admission refused); the message says why.
        case refused
    }

    /// The coarse category.
    public var code: Code
    /// A one-line human message naming the resource where there is one.
    public var message: String
    /// The resource the error is about (`VirtualService default/reviews`), if any.
    public var resource: String?
    /// The field the error is about (`metadata.resourceVersion`), if any.
    public var field: String?
    /// The underlying error, if any (a GRDB `DatabaseError`, a gRPC error from etcd, an I/O error).
    public var cause: (any Error)?

    /// Creates an error.
    public init(code: Code, message: String, resource: String? = nil, field: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.resource = resource
        self.field = field
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(message): \(cause)" }
        return message
    }
}

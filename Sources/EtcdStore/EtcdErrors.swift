import GRPCCore
import Storage

/// How etcd's gRPC errors map onto `StorageError`s: what is about availability (try another
/// member, answer 503), what is about size (413 naming the etcd flag), what is a bug.
enum EtcdErrors {
    /// etcd's message for a transaction with more operations than `--max-txn-ops`.
    static let tooManyOperations = "too many operations in txn request"
    /// etcd's message for a request larger than `--max-request-bytes`.
    static let requestTooLarge = "request is too large"
    /// etcd's message when a read or watch asks for a revision compacted away.
    static let compacted = "required revision has been compacted"

    static func storageError(_ error: any Error, what: String, endpoint: EtcdEndpoint) -> StorageError {
        if let error = error as? StorageError { return error }
        guard let rpc = error as? RPCError else {
            return StorageError(code: .unavailable, message: "etcd \(endpoint): \(what) failed", cause: error)
        }
        if rpc.message.contains(tooManyOperations) {
            return StorageError(
                code: .tooLarge,
                message:
                    "the change needs more operations in one etcd transaction than etcd's --max-txn-ops allows; raise --max-txn-ops on every etcd member, or apply fewer documents at once",
                cause: rpc)
        }
        if rpc.message.contains(requestTooLarge) || rpc.code == .resourceExhausted {
            return StorageError(
                code: .tooLarge,
                message:
                    "the change is larger than etcd's --max-request-bytes allows in one transaction; raise --max-request-bytes on every etcd member, or apply fewer documents at once",
                cause: rpc)
        }
        switch rpc.code {
        case .unavailable, .deadlineExceeded, .cancelled, .unknown, .aborted, .internalError:
            // No leader, request timed out, connection refused or reset: another member may do.
            return StorageError(code: .unavailable, message: "etcd \(endpoint): \(what): \(rpc.message)", cause: rpc)
        default:
            return StorageError(code: .database, message: "etcd \(endpoint): \(what) failed: \(rpc.code): \(rpc.message)", cause: rpc)
        }
    }
}

import Hummingbird
import Logging
import MeshModel
import Storage

/// An admin API failure, mapped to an HTTP status and the JSON error body of docs/admin-api.md.
///
/// A 5xx error's `message` and `cause` are for meshd's log only: the caller gets a generic
/// message and an error id to quote (`AdminErrorMiddleware`), never SQL or internal text.
public struct AdminError: Error, Sendable {
    /// The JSON `error.code`.
    public var code: String
    /// The HTTP status of the answer.
    public var status: HTTPResponse.Status
    /// The human message (sent to the caller unless the status is 5xx).
    public var message: String
    /// The resource the error is about (`VirtualService default/reviews`), if any.
    public var resource: String?
    /// The field the error is about (`spec.http[0].route[1].weight`), if any.
    public var field: String?
    /// The underlying error, logged for a 5xx and never sent.
    public var cause: (any Error)?

    /// Creates an error.
    public init(
        code: String, status: HTTPResponse.Status, message: String, resource: String? = nil, field: String? = nil,
        cause: (any Error)? = nil
    ) {
        self.code = code
        self.status = status
        self.message = message
        self.resource = resource
        self.field = field
        self.cause = cause
    }

    /// The one-line form meshctl prints: `RESOURCE: FIELD: MESSAGE`.
    public var detail: String {
        [resource, field, message].compactMap { $0 }.joined(separator: ": ")
    }

    /// From a parse or validation error: malformed and unknown kinds are 400, invalid content 422.
    public init(_ error: MeshModelError) {
        let status: HTTPResponse.Status = error.code == .invalid ? .unprocessableContent : .badRequest
        self.init(code: error.code.rawValue, status: status, message: error.message, resource: error.resource, field: error.field)
    }

    /// From a store error: a missing resource is 404; a database failure is a 500 whose
    /// details (SQL, paths) stay in the log; an unreachable store (etcd without quorum) is 503
    /// `unavailable`, a change past the store's limits 413 `tooLarge` naming the limit, a
    /// stale `metadata.resourceVersion` or writers racing on the same resources 409 `conflict`,
    /// a revision older than the history kept 410 `historyPruned`, a change the store does not
    /// take (the Kubernetes API server refused it) 422 `refused` — each says nothing changed.
    public init(_ error: StorageError) {
        switch error.code {
        case .notFound: self.init(code: "notFound", status: .notFound, message: error.message)
        case .historyPruned: self.init(code: "historyPruned", status: .gone, message: error.message)
        case .database: self = .internalError(error.message, cause: error.cause)
        case .unavailable: self.init(code: "unavailable", status: .serviceUnavailable, message: error.message, cause: error.cause)
        case .tooLarge: self.init(code: "tooLarge", status: .contentTooLarge, message: error.message)
        case .conflict:
            self.init(code: "conflict", status: .conflict, message: error.message, resource: error.resource, field: error.field)
        case .refused:
            self.init(code: "refused", status: .unprocessableContent, message: error.message, resource: error.resource, field: error.field)
        }
    }

    /// Whether a 5xx answer may carry its own message: `unavailable` says what the operator must
    /// fix (the store), and holds no internal detail (its cause stays in the log).
    var messageIsPublic: Bool { status.code < 500 || code == "unavailable" }

    /// A 500 whose `message` and `cause` go to the log only.
    static func internalError(_ message: String, cause: (any Error)? = nil) -> AdminError {
        AdminError(code: "internal", status: .internalServerError, message: message, cause: cause)
    }

    static func notFound(_ what: String) -> AdminError {
        AdminError(code: "notFound", status: .notFound, message: "\(what) not found")
    }

    static let tooLarge = AdminError(
        code: "tooLarge", status: .contentTooLarge,
        message: "request body exceeds \(AdminLimits.maxBodyBytes) bytes")

    /// The JSON response. A 5xx answers a generic message naming a new error id, and logs the
    /// real message, cause and request under that id.
    func response(logging logger: Logger, request: Request) -> Response {
        guard messageIsPublic else {
            let hex = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            let id = String(repeating: "0", count: 16 - hex.count) + hex
            logger.error(
                "admin API internal error",
                metadata: [
                    "error_id": "\(id)", "method": "\(request.method)", "path": "\(request.uri.path)",
                    "error": "\(message)", "cause": "\(cause.map { String(describing: $0) } ?? "-")",
                ])
            let generic = "internal error (id \(id)); meshd's log has the details"
            return JSONResponse.make(
                .object([
                    "error": .object([
                        "code": .string(code), "message": .string(generic), "detail": .string(generic), "errorId": .string(id),
                    ])
                ]), status: status)
        }
        if status.code >= 500 {
            logger.warning(
                "admin API request refused: a dependency is unavailable",
                metadata: [
                    "method": "\(request.method)", "path": "\(request.uri.path)",
                    "error": "\(message)", "cause": "\(cause.map { String(describing: $0) } ?? "-")",
                ])
        }
        return response
    }

    /// The JSON response for a 4xx or a public 5xx.
    private var response: Response {
        var error: [String: JSONValue] = ["code": .string(code), "message": .string(message), "detail": .string(detail)]
        if let resource { error["resource"] = .string(resource) }
        if let field { error["field"] = .string(field) }
        return JSONResponse.make(.object(["error": .object(error)]), status: status)
    }
}

/// Limits of the admin API.
public enum AdminLimits {
    /// Request bodies over 1 MiB are rejected with 413.
    public static let maxBodyBytes = 1 << 20
}

/// JSON responses from `JSONValue`, with deterministic key order.
enum JSONResponse {
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: value.canonicalJSON() + "\n")))
    }
}

/// Middleware that turns every thrown error into a JSON body: `AdminError`s and the modules'
/// errors as they are, Hummingbird's own by status, anything else as a logged 500.
struct AdminErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return Self.adminError(error).response(logging: logger, request: request)
        }
    }

    static func adminError(_ error: any Error) -> AdminError {
        switch error {
        case let error as AdminError: return error
        case let error as MeshModelError: return AdminError(error)
        case let error as StorageError: return AdminError(error)
        case let error as HTTPError:
            if error.status == .contentTooLarge { return AdminError.tooLarge }
            if error.status.code >= 500 { return .internalError("HTTP error", cause: error) }
            return AdminError(
                code: error.status == .notFound ? "notFound" : "invalid", status: error.status,
                message: error.body ?? error.status.reasonPhrase)
        default: return .internalError("unexpected error", cause: error)
        }
    }
}

import Hummingbird
import MeshModel
import Storage

/// An admin API failure, mapped to an HTTP status and the JSON error body of docs/admin-api.md.
public struct AdminError: Error, Sendable {
    /// The JSON `error.code`.
    public var code: String
    public var status: HTTPResponse.Status
    public var message: String
    public var resource: String?
    public var field: String?

    public init(code: String, status: HTTPResponse.Status, message: String, resource: String? = nil, field: String? = nil) {
        self.code = code
        self.status = status
        self.message = message
        self.resource = resource
        self.field = field
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

    /// From a store error.
    public init(_ error: StorageError) {
        switch error.code {
        case .notFound: self.init(code: "notFound", status: .notFound, message: error.message)
        case .database: self.init(code: "internal", status: .internalServerError, message: error.description)
        }
    }

    static func notFound(_ what: String) -> AdminError {
        AdminError(code: "notFound", status: .notFound, message: "\(what) not found")
    }

    static let tooLarge = AdminError(code: "tooLarge", status: .contentTooLarge,
                                     message: "request body exceeds \(AdminLimits.maxBodyBytes) bytes")

    /// The JSON response.
    var response: Response {
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
        Response(status: status, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: value.canonicalJSON() + "\n")))
    }
}

/// Middleware that turns thrown `AdminError`s (and Hummingbird's own errors) into JSON bodies.
struct AdminErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as AdminError {
            return error.response
        } catch let error as MeshModelError {
            return AdminError(error).response
        } catch let error as StorageError {
            return AdminError(error).response
        } catch let error as HTTPError {
            if error.status == .contentTooLarge { return AdminError.tooLarge.response }
            return AdminError(code: error.status == .notFound ? "notFound" : "invalid", status: error.status,
                              message: error.body ?? error.status.reasonPhrase).response
        }
    }
}

import Foundation
import MeshModel
import NIOHTTP1

/// A request the API server refused or that could not be made: the HTTP status (0 when there
/// was no answer), the `Status` reason (`Conflict`, `AlreadyExists`, `NotFound`) and message.
public struct KubeAPIError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var reason: String
    public var message: String

    public init(status: Int, reason: String = "", message: String) {
        self.status = status
        self.reason = reason
        self.message = message
    }

    /// The refusal in a non-2xx `response` to `what`.
    init(_ response: KubeAPIClient.Response, _ what: String) {
        let value = try? JSONValue.parse(json: response.body)
        self.init(
            status: response.status, reason: value?["reason"]?.stringValue ?? "",
            message: "\(what): HTTP \(response.status): \(KubeWatcher.message(response.body))")
    }

    public var description: String { message }
}

extension KubeAPIClient {
    /// Every object of `collection`, read page by page from one consistent snapshot.
    /// - Throws: `KubeAPIError` when a page is refused or cannot be read.
    public func listAll(_ collection: KubeCollection, pageSize: Int = 500) async throws(KubeAPIError) -> [KubeObject] {
        var objects: [KubeObject] = []
        var token: String?
        repeat {
            var query = collection.query + [("limit", "\(pageSize)")]
            if let token { query.append(("continue", token)) }
            let response = try await request(.GET, collection.path, query: query, body: nil, what: "list \(collection)")
            switch WatchStreamDecoder.listPage(response.body) {
            case .listPage(let items, let next, _):
                objects += items
                token = next
            case .failed(let message):
                throw KubeAPIError(status: response.status, message: "list \(collection): \(message)")
            default:
                throw KubeAPIError(status: 410, reason: "Expired", message: "list \(collection): the list expired while it was read")
            }
        } while token != nil
        return objects
    }

    /// One request whose 2xx answer is returned; anything else is thrown.
    /// - Throws: `KubeAPIError` with the status and reason of a refusal, status 0 when the API
    ///   server could not be reached.
    public func request(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: String?, contentType: String = "application/json",
        what: String
    ) async throws(KubeAPIError) -> Response {
        let response: Response
        do {
            response = try await send(method, path, query: query, body: body, contentType: contentType)
        } catch {
            throw KubeAPIError(status: 0, message: "\(what): \(error)")
        }
        guard (200..<300).contains(response.status) else { throw KubeAPIError(response, what) }
        return response
    }
}

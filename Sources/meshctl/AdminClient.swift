import AsyncHTTPClient
import Foundation
import MeshModel

/// A client of meshd's admin REST API (docs/admin-api.md), one method per endpoint meshctl uses.
///
/// It turns every failure into a `MeshctlError`: a non-2xx answer carries the server's
/// `error.detail`, and a transport failure names the server URL so a wrong `--server` is obvious.
/// Create it with `withClient(_:_:)`, which owns the underlying `HTTPClient`'s lifetime.
struct AdminClient: Sendable {
    /// The admin API base URL, without a trailing slash.
    let baseURL: String
    private let token: String?
    private let http: HTTPClient

    /// The largest response meshctl reads; a config dump of a big mesh is a few MiB.
    private static let maxResponseBytes = 64 * 1024 * 1024

    /// The HTTP methods the admin API uses. Ours rather than NIO's so meshctl depends only on
    /// AsyncHTTPClient's public surface.
    enum Method: Sendable {
        case get, post, put, delete
    }

    private init(baseURL: String, token: String?, http: HTTPClient) {
        self.baseURL = baseURL
        self.token = token
        self.http = http
    }

    /// Runs `body` with a client for the server named by `options`, and shuts the client down
    /// afterwards whether `body` succeeds or throws.
    ///
    /// A private `HTTPClient` rather than `HTTPClient.shared`: the shared one retries a refused
    /// connection until the request deadline, and a CLI should fail at once when meshd is down.
    static func withClient<Result>(
        _ options: GlobalOptions,
        _ body: (AdminClient) async throws -> Result
    ) async throws -> Result {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(60))
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        let client = AdminClient(baseURL: options.resolvedServer, token: options.resolvedToken, http: http)
        let result: Result
        do {
            result = try await body(client)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
        return result
    }

    // MARK: Config

    /// `POST /api/v1/apply`: creates or updates every resource in one manifest, all or nothing.
    func apply(_ manifest: ManifestSource) async throws -> MutationResponse {
        let data = try await send(.post, "/api/v1/apply", body: manifest.data, contentType: manifest.contentType)
        return try MutationResponse.decode(data, what: "apply response")
    }

    /// `POST /api/v1/apply?dryRun=true[&proxy=ID]`: validates one manifest as an apply would and
    /// answers what it would do and which proxies it would touch, changing nothing. The raw body.
    func applyDryRun(_ manifest: ManifestSource, proxy: String?) async throws -> Data {
        try await send(
            .post, "/api/v1/apply", query: [("dryRun", "true")] + (proxy.map { [("proxy", $0)] } ?? []),
            body: manifest.data, contentType: manifest.contentType)
    }

    /// `POST /api/v1/apply` answered as it came (for `-o json`).
    func applyRaw(_ manifest: ManifestSource) async throws -> Data {
        try await send(.post, "/api/v1/apply", body: manifest.data, contentType: manifest.contentType)
    }

    /// `POST /api/v1/delete`: deletes every resource named in one manifest.
    func delete(_ manifest: ManifestSource) async throws -> MutationResponse {
        let data = try await send(.post, "/api/v1/delete", body: manifest.data, contentType: manifest.contentType)
        return try MutationResponse.decode(data, what: "delete response")
    }

    /// `DELETE /api/v1/config/{kind}/{namespace}/{name}`.
    func deleteResource(kind: String, namespace: String, name: String) async throws -> MutationResponse {
        let data = try await send(.delete, Self.configPath(kind, namespace, name))
        return try MutationResponse.decode(data, what: "delete response")
    }

    /// `GET /api/v1/config/{kind}[?namespace=NS]`: resources of one kind, sorted by namespace and
    /// name; `namespace` nil means every namespace.
    func list(kind: String, namespace: String?) async throws -> [JSONValue] {
        let query = namespace.map { [("namespace", $0)] } ?? []
        let data = try await send(.get, Self.configPath(kind), query: query)
        let answer = try JSONValue.parse(data, what: "list response")
        guard let items = answer["items"]?.arrayValue else {
            throw MeshctlError(.badResponse, "list response from \(baseURL) has no \"items\" array")
        }
        return items
    }

    /// `GET /api/v1/config/{kind}/{namespace}/{name}`: one resource.
    func get(kind: String, namespace: String, name: String) async throws -> JSONValue {
        let data = try await send(.get, Self.configPath(kind, namespace, name))
        return try JSONValue.parse(data, what: "resource")
    }

    // MARK: Analysis

    /// `GET /api/v1/analyze` (no `documents`) or `POST /api/v1/analyze` with `documents` applied
    /// on top of the stored configuration (nothing written): the analysis messages, only those
    /// about resources in `namespace` when given.
    func analyze(namespace: String?, documents: ManifestSource?) async throws -> JSONValue {
        let query = namespace.map { [("namespace", $0)] } ?? []
        let data: Data
        if let documents {
            data = try await send(.post, "/api/v1/analyze", query: query, body: documents.data, contentType: documents.contentType)
        } else {
            data = try await send(.get, "/api/v1/analyze", query: query)
        }
        return try JSONValue.parse(data, what: "analyze response")
    }

    // MARK: History

    /// `GET /api/v1/history`: history records newest first, filtered by kind, namespace, name.
    func history(kind: String?, namespace: String?, name: String?, limit: Int) async throws -> JSONValue {
        var query = [("limit", String(limit))]
        if let kind { query.append(("kind", kind)) }
        if let namespace { query.append(("namespace", namespace)) }
        if let name { query.append(("name", name)) }
        return try JSONValue.parse(try await send(.get, "/api/v1/history", query: query), what: "history")
    }

    /// `GET /api/v1/history/diff?from=REV[&to=REV2]`: what changed from one revision to another (or now).
    func historyDiff(from: Int64, to: Int64?) async throws -> JSONValue {
        let query = [("from", String(from))] + (to.map { [("to", String($0))] } ?? [])
        return try JSONValue.parse(try await send(.get, "/api/v1/history/diff", query: query), what: "history diff")
    }

    /// `POST /api/v1/rollback`: restores the configuration right after `revision` as a new revision.
    func rollback(to revision: Int64) async throws -> MutationResponse {
        try MutationResponse.decode(try await rollbackRaw(to: revision, dryRun: false, proxy: nil), what: "rollback response")
    }

    /// `POST /api/v1/rollback[?dryRun=true[&proxy=ID]]` answered as it came (dry run, `-o json`).
    func rollbackRaw(to revision: Int64, dryRun: Bool, proxy: String?) async throws -> Data {
        let body = Data(JSONValue.object(["toRevision": .number(Double(revision))]).canonicalJSON().utf8)
        let query = dryRun ? [("dryRun", "true")] + (proxy.map { [("proxy", $0)] } ?? []) : []
        return try await send(.post, "/api/v1/rollback", query: query, body: body)
    }

    // MARK: Proxies

    /// `GET /debug/syncz`: the xDS sync state of every connected proxy, as meshd reports it.
    func syncStatus() async throws -> JSONValue {
        try JSONValue.parse(try await send(.get, "/debug/syncz"), what: "syncz response")
    }

    /// `GET /debug/authz`: the mTLS modes and RBAC rules WorkloadEntry `namespace/workload` gets.
    func authzCheck(namespace: String, workload: String) async throws -> JSONValue {
        try JSONValue.parse(
            try await send(.get, "/debug/authz", query: [("namespace", namespace), ("workload", workload)]),
            what: "authz check")
    }

    /// `GET /debug/authz?proxyID=ID`: the same for a connected Envoy sidecar, by its own labels.
    func authzCheck(proxyID: String) async throws -> JSONValue {
        try JSONValue.parse(try await send(.get, "/debug/authz", query: [("proxyID", proxyID)]), what: "authz check")
    }

    /// `POST /api/v1/canaries/NAMESPACE/NAME/OPERATION[?dryRun=true[&proxy=ID]]` (abort,
    /// promote, resume): the answer as it came.
    func canaryOperation(_ operation: String, namespace: String, name: String, dryRun: Bool, proxy: String?) async throws -> Data {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove("/")
        let segments = [namespace, name, operation].map { $0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0 }
        let query = dryRun ? [("dryRun", "true")] + (proxy.map { [("proxy", $0)] } ?? []) : []
        return try await send(
            .post, "/api/v1/canaries/" + segments.joined(separator: "/"), query: query, body: Data("{}".utf8), contentType: "application/json")
    }

    /// `GET /debug/mesh`: the mesh config in force.
    /// `GET /api/v1/traffic?host=…&window=…`: observed traffic per subset, from Prometheus.
    func traffic(host: String, window: String) async throws -> JSONValue {
        let query = [("host", host), ("window", window)]
        return try JSONValue.parse(try await send(.get, "/api/v1/traffic", query: query), what: "traffic")
    }

    func meshConfig() async throws -> JSONValue {
        try JSONValue.parse(try await send(.get, "/debug/mesh"), what: "mesh config")
    }

    /// `GET /debug/jwks`: the key sets meshd fetches for RequestAuthentications.
    func jwks() async throws -> JSONValue {
        try JSONValue.parse(try await send(.get, "/debug/jwks"), what: "JWKS status")
    }

    /// `GET /debug/config_dump?proxyID=ID`: the resources meshd last built for one proxy.
    func configDump(proxyID: String) async throws -> JSONValue {
        try JSONValue.parse(try await send(.get, "/debug/config_dump", query: [("proxyID", proxyID)]), what: "config dump")
    }

    // MARK: Identity

    /// `POST /api/v1/tokens`: mints a workload token for `namespace`/`serviceAccount`, valid for
    /// `ttl` (a duration such as `24h`, validated by meshd).
    func createToken(namespace: String, serviceAccount: String, ttl: String) async throws -> String {
        let request = JSONValue.object([
            "namespace": .string(namespace),
            "serviceAccount": .string(serviceAccount),
            "ttl": .string(ttl),
        ])
        let body = try JSONEncoder().encode(request)
        let answer = try JSONValue.parse(try await send(.post, "/api/v1/tokens", body: body), what: "token response")
        guard let token = answer["token"]?.stringValue, !token.isEmpty else {
            throw MeshctlError(.badResponse, "token response from \(baseURL) has no \"token\" string")
        }
        return token
    }

    /// `GET /api/v1/ca/root`: the mesh's root certificate as PEM text.
    func caRoot() async throws -> String {
        let data = try await send(.get, "/api/v1/ca/root", accept: "application/x-pem-file, text/plain")
        let pem = String(decoding: data, as: UTF8.self)
        guard pem.contains("-----BEGIN CERTIFICATE-----") else {
            throw MeshctlError(.badResponse, "CA root from \(baseURL) is not a PEM certificate")
        }
        return pem
    }

    // MARK: Transport

    /// `/api/v1/config/` followed by each segment percent-encoded, so a name can never change
    /// the path's shape.
    private static func configPath(_ segments: String...) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove("/")
        let encoded = segments.map { $0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0 }
        return "/api/v1/config/" + encoded.joined(separator: "/")
    }

    /// Sends one request and returns the body of a 2xx answer; throws `MeshctlError` otherwise.
    func send(
        _ method: Method,
        _ path: String,
        query: [(String, String)] = [],
        body: Data? = nil,
        contentType: String? = nil,
        accept: String = "application/json"
    ) async throws -> Data {
        var url = baseURL + path
        if !query.isEmpty {
            var allowed = CharacterSet.urlQueryAllowed
            allowed.remove(charactersIn: "&=+")
            url +=
                "?"
                + query.map { key, value in
                    "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
                }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        switch method {
        case .get: request.method = .GET
        case .post: request.method = .POST
        case .put: request.method = .PUT
        case .delete: request.method = .DELETE
        }
        request.headers.add(name: "Accept", value: accept)
        request.headers.add(name: "User-Agent", value: "meshctl/\(MeshctlCommand.version)")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType ?? "application/json")
            request.body = .bytes(Array(body))
        }

        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(120))
        } catch {
            throw MeshctlError(.unreachable, "cannot reach meshd at \(baseURL): \(Self.reason(error))", cause: error)
        }
        let status = response.status.code
        let data: Data
        do {
            data = Data(try await response.body.collect(upTo: Self.maxResponseBytes).readableBytesView)
        } catch {
            // Connected, so not "unreachable": the answer broke off or exceeded the size limit.
            throw MeshctlError(.badResponse, "reading the answer from meshd at \(baseURL) failed: \(error)", cause: error)
        }
        guard (200..<300).contains(status) else {
            throw Self.serverError(status: status, body: data)
        }
        return data
    }

    /// The server's own one-line `error.detail` (or `message`) when the body follows the admin
    /// API's error shape; otherwise the status and whatever text came back.
    private static func serverError(status: UInt, body: Data) -> MeshctlError {
        let envelope = try? JSONValue.parse(body, what: "error")
        let error = envelope?["error"]
        let apiCode = error?["code"]?.stringValue
        if let text = error?["detail"]?.stringValue ?? error?["message"]?.stringValue, !text.isEmpty {
            return MeshctlError(.server(status: status, apiCode: apiCode), text)
        }
        // Not meshd's error shape (a proxy or another server answered): keep it to one line.
        var raw = String(decoding: body.prefix(2048), as: UTF8.self)
            .split(whereSeparator: \.isWhitespace).joined(separator: " ")
        if raw.count > 200 { raw = raw.prefix(200) + "..." }
        let text = raw.isEmpty ? "server answered HTTP \(status)" : "server answered HTTP \(status): \(raw)"
        return MeshctlError(.server(status: status, apiCode: apiCode), text)
    }

    /// A short human reason for a transport failure.
    ///
    /// NIO's connection errors are not part of meshctl's declared dependencies, so they are
    /// recognised by their text; the fallback still prints the full error.
    private static func reason(_ error: any Error) -> String {
        if let clientError = error as? HTTPClientError {
            return clientError.shortDescription.lowercased()
        }
        let text = String(describing: error)
        if text.contains("Connection refused") || text.contains("ECONNREFUSED") {
            return "connection refused (is meshd running? set --server or MESHCTL_SERVER)"
        }
        return text
    }
}

import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// HTTPS requests to the Kubernetes API server with meshd's credentials (`KubeClientConfig`):
/// the CA bundle and client certificate go into the TLS configuration, a bearer token (read
/// again for each request when it comes from a file) into the `Authorization` header.
public final class KubeAPIClient: Sendable {
    /// A response's status and body.
    public struct Response: Sendable {
        public var status: Int
        public var body: String
    }

    /// The largest list page or review accepted (a page of 500 big pods stays far below it).
    public static let maxBodyBytes = 64 * 1024 * 1024

    /// Where requests go.
    public let config: KubeClientConfig
    private let client: HTTPClient

    /// A client for `config`; throws when its CA bundle or client certificate cannot be read.
    public init(config: KubeClientConfig) throws(KubeClientConfig.ConfigError) {
        self.config = config
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca = config.certificateAuthorityPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.utf8)))
            }
            if case .clientCertificate(let certificate, let key) = config.credentials {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificate.utf8)).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem))
            }
        } catch {
            throw KubeClientConfig.ConfigError("the API server's CA or the client certificate cannot be read: \(error)")
        }
        if config.insecureSkipTLSVerify { tls.certificateVerification = .none }
        // Closing waits this long for the server's close_notify; servers that never send it (Go's
        // TLS stack does not answer one) would hold every shutdown for NIOSSL's default 5 s.
        tls.shutdownTimeout = .milliseconds(200)
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout.connect = .seconds(5)
        configuration.decompression = .disabled
        // A refused connection fails the request now; the list/watch machine owns the retries.
        configuration.connectionPool.retryConnectionEstablishment = false
        // Every watch holds a connection for minutes (HTTP/1.1, one stream each): the registry
        // watches 5 collections and the Kubernetes store 10, with writes and reviews beside them,
        // beyond AsyncHTTPClient's default of 8 per host.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes the connections.
    public func shutdown() async {
        try? await client.shutdown()
    }

    /// `GET path?query`, the whole body read (at most `maxBodyBytes`).
    public func get(_ path: String, query: [(String, String)] = [], timeout: Duration = .seconds(30)) async throws -> Response {
        try await send(.GET, path, query: query, timeout: timeout)
    }

    /// `POST path` with a JSON body, the whole answer read.
    public func post(_ path: String, json: String, query: [(String, String)] = [], timeout: Duration = .seconds(10)) async throws -> Response {
        try await send(.POST, path, query: query, body: json, timeout: timeout)
    }

    /// One request with an optional body of `contentType` (JSON unless a patch type is named),
    /// the whole answer read (at most `maxBodyBytes`).
    public func send(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: String? = nil,
        contentType: String = "application/json", timeout: Duration = .seconds(10)
    ) async throws -> Response {
        var request = try makeRequest(method, path: path, query: query)
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, deadline: .now() + .init(timeout))
        let collected = try await response.body.collect(upTo: Self.maxBodyBytes)
        return Response(status: Int(response.status.code), body: String(buffer: collected))
    }

    /// `GET path?query` whose body is read as it arrives (a watch); ends by `deadline`.
    public func stream(_ path: String, query: [(String, String)], deadline: Duration) async throws -> HTTPClientResponse {
        let request = try makeRequest(.GET, path: path, query: query)
        return try await client.execute(request, deadline: .now() + .init(deadline))
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters (continue tokens and
    /// selectors carry `=`, `+` and `,`).
    static func encode(_ text: String) -> String {
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private func makeRequest(_ method: HTTPMethod, path: String, query: [(String, String)]) throws -> HTTPClientRequest {
        let base = config.server.hasSuffix("/") ? String(config.server.dropLast()) : config.server
        let suffix = query.isEmpty ? "" : "?" + query.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
        var request = HTTPClientRequest(url: base + path + suffix)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "meshd")
        if let token = try config.bearerToken() { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return request
    }
}

import AsyncHTTPClient
import Foundation
import MeshModel
import NIOCore

/// One sample of an instant vector: its labels and value (NaN and infinities as Prometheus wrote them).
public struct PrometheusSample: Sendable, Hashable {
    public var labels: [String: String]
    public var value: Double

    public init(labels: [String: String], value: Double) {
        self.labels = labels
        self.value = value
    }
}

/// Asks a Prometheus server instant queries; a protocol so the report can be tested without one.
public protocol PrometheusQuerying: Sendable {
    /// The server's base URL, as the answer names it.
    var baseURL: String { get }
    /// The instant vector `promql` evaluates to now.
    func query(_ promql: String) async throws(ObservedTrafficError) -> [PrometheusSample]
}

/// Prometheus' HTTP API (`POST /api/v1/query`, form-encoded: queries over many services are
/// longer than a URL should be). meshd stores no samples; it only asks.
public final class PrometheusClient: PrometheusQuerying {
    public let baseURL: String
    private let client: HTTPClient
    private let timeout: Duration

    /// The largest answer read: latency buckets of every subset of a large mesh run to a few
    /// megabytes; this bounds a wrong URL.
    static let maxAnswerBytes = 64 << 20

    /// - Throws: `.badRequest` when `baseURL` is not an http(s) URL.
    public init(baseURL: String, timeout: Duration = .seconds(5)) throws(ObservedTrafficError) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
            throw .badRequest("--prometheus-url \"\(baseURL)\" is not an http(s) URL such as http://prometheus.istio-system:9090")
        }
        self.baseURL = base
        self.timeout = timeout
        var configuration = HTTPClient.Configuration()
        // A refused connection is an answer now ("cannot be reached"), not a retry until the deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        // An answer sends its nine queries at once; the default (8 per host) would queue one.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 16
        configuration.decompression = .enabled(limit: .size(Self.maxAnswerBytes))
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    deinit {
        try? client.syncShutdown()
    }

    public func query(_ promql: String) async throws(ObservedTrafficError) -> [PrometheusSample] {
        var request = HTTPClientRequest(url: baseURL + "/api/v1/query")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: "query=" + Self.formEncoded(promql)))
        let deadline = NIODeadline.now() + .milliseconds(Int64(timeout / .milliseconds(1)))
        let text: String
        let status: UInt
        do {
            let response = try await client.execute(request, deadline: deadline)
            status = response.status.code
            text = String(buffer: try await response.body.collect(upTo: Self.maxAnswerBytes))
        } catch {
            throw .unavailable("Prometheus at \(baseURL) cannot be reached: \(Self.reason(error, timeout: timeout))")
        }
        return try Self.vector(from: text, status: status, baseURL: baseURL)
    }

    /// A transport failure in words: NIO's own descriptions of the common ones are not
    /// written for operators ("connection reset (error set): Connection refused) (errno: 111)").
    static func reason(_ error: any Error, timeout: Duration) -> String {
        let text = "\(error)"
        if text.contains("deadlineExceeded") || text.contains("connectTimeout") { return "no answer within \(timeout)" }
        if text.contains("Connection refused") { return "connection refused" }
        if text.contains("No address associated") || text.contains("Name or service not known") { return "the host name does not resolve" }
        return text
    }

    /// The samples of an instant-vector answer.
    /// - Throws: `.unavailable` naming Prometheus' own error, or what was wrong with the answer.
    static func vector(from text: String, status: UInt, baseURL: String) throws(ObservedTrafficError) -> [PrometheusSample] {
        guard let answer = try? JSONValue.parse(json: text), answer["status"]?.stringValue != nil else {
            throw .unavailable("Prometheus at \(baseURL) answered HTTP \(status) with no query result: \(text.prefix(120))")
        }
        guard answer["status"]?.stringValue == "success" else {
            let kind = answer["errorType"]?.stringValue ?? "error"
            throw .unavailable("Prometheus at \(baseURL) refused the query (\(kind)): \(answer["error"]?.stringValue ?? "no message")")
        }
        guard answer["data"]?["resultType"]?.stringValue == "vector", let result = answer["data"]?["result"]?.arrayValue else {
            throw .unavailable("Prometheus at \(baseURL) answered something other than an instant vector")
        }
        return result.compactMap { item in
            guard let value = item["value"]?[1]?.stringValue, let number = number(value) else { return nil }
            let labels = (item["metric"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
            return PrometheusSample(labels: labels, value: number)
        }
    }

    /// A sample value as Prometheus writes it: a decimal, `NaN`, `+Inf` or `-Inf`.
    static func number(_ text: String) -> Double? {
        switch text {
        case "NaN": .nan
        case "+Inf": .infinity
        case "-Inf": -.infinity
        default: Double(text)
        }
    }

    /// `application/x-www-form-urlencoded` of one value.
    static func formEncoded(_ value: String) -> String {
        // ASCII only: `alphanumerics` would pass other scripts' letters through unencoded.
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._*")
        return value.addingPercentEncoding(withAllowedCharacters: allowed)?.replacingOccurrences(of: "%20", with: "+") ?? ""
    }
}

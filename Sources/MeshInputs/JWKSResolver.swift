import AsyncHTTPClient
import Foundation
import Logging
import MeshCommon
import MeshModel
import NIOCore
import PushPipeline
import ServiceLifecycle
import Synchronization
import Translator

/// Fetches the key sets of RequestAuthentications' `jwksUri`s, keeps them fresh and hands the
/// last good ones to the push side (`MeshSettings.fetchedKeySets`), which inlines them into
/// Envoy's `jwt_authn` config as istiod does by default.
///
/// - What to fetch follows the published contexts: a `jwksUri` some RequestAuthentication names
///   (without inline `jwks`) is fetched at once, then every `refreshInterval`; one no longer
///   named is forgotten. The write path fetches a new one before answering (`prefetch`), so an
///   apply says at once when its keys cannot be had.
/// - A fetch is bounded: the rule's `timeout`, at most `maxBytes` of body, a 2xx answer that is
///   a JSON key set with public keys only. Link-local addresses (cloud metadata) are refused.
/// - A failed refresh keeps the last good keys, retries after `retryInterval` (doubling up to
///   `refreshInterval`, at least 1 s), and is reported: logged, listed by `/debug/jwks`, and named
///   in `/ready` (`jwks`) until it succeeds. A set never fetched gives no key at all, so tokens of
///   its issuer are refused (401) while requests without one pass, as in istiod.
/// - A changed set (a key rotation) bumps the settings generation: every proxy it concerns is
///   pushed the new keys.
public final class JWKSResolver: Service, Sendable {
    /// Bounds and timing.
    public struct Limits: Sendable {
        /// Largest key set accepted, in bytes.
        public var maxBytes: Int
        /// How often a good key set is fetched again (istiod: 20 min).
        public var refreshInterval: Duration
        /// The first retry after a failure (istiod: 1 min), doubling up to `refreshInterval`.
        public var retryInterval: Duration

        public init(maxBytes: Int = 512 * 1024, refreshInterval: Duration = .seconds(1200), retryInterval: Duration = .seconds(60)) {
            self.maxBytes = maxBytes
            self.refreshInterval = refreshInterval
            self.retryInterval = retryInterval
        }
    }

    /// One `jwksUri` as `/debug/jwks` shows it.
    public struct Status: Sendable, Codable, Hashable {
        public var uri: String
        /// The key IDs of the set in force (none before a first success).
        public var keyIDs: [String]
        /// Whether meshd holds a good set.
        public var hasKeys: Bool
        public var lastSuccess: String?
        public var lastAttempt: String?
        /// The last attempt's error, nil when it succeeded.
        public var lastError: String?
        public var consecutiveFailures: Int
    }

    private struct Entry {
        var keys: String?
        var timeout: Duration
        var lastSuccess: Date?
        var lastAttempt: Date?
        var lastError: String?
        var failures = 0
        var due: ContinuousClock.Instant
        /// When a published policy last named it, or the write path fetched it: an entry is
        /// kept for `unnamedGrace` after that, so a policy on its way to a published context
        /// does not lose its keys.
        var since: ContinuousClock.Instant = .now
    }

    /// How long a fetched URI no published policy names is kept (the write path fetches before
    /// the store write; the context naming it follows within the debounce window).
    static let unnamedGrace: Duration = .seconds(30)

    private let publisher: PushContextPublisher
    private let settings: MeshSettingsSource
    private let health: ServingHealth
    private let limits: Limits
    private let logger: Logger
    private let client: HTTPClient
    private let entries = Mutex<[String: Entry]>([:])

    public init(
        publisher: PushContextPublisher, settings: MeshSettingsSource, health: ServingHealth, limits: Limits = Limits(), logger: Logger
    ) {
        self.publisher = publisher
        self.settings = settings
        self.health = health
        self.limits = limits
        self.logger = logger
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .follow(max: 5, allowCycles: false)
        configuration.decompression = .disabled
        // A refused connection is a failed fetch now, not retried until the rule's timeout
        // (which would hold an apply for the whole timeout); the refresh schedule retries.
        configuration.connectionPool.retryConnectionEstablishment = false
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Every `jwksUri` meshd tracks, sorted.
    public var statuses: [Status] {
        entries.withLock { entries in
            entries.keys.sorted().compactMap { uri in
                guard let entry = entries[uri] else { return nil }
                return Status(
                    uri: uri, keyIDs: entry.keys.map(JWKSDocument.keyIDs(in:)) ?? [], hasKeys: entry.keys != nil,
                    lastSuccess: entry.lastSuccess?.rfc3339, lastAttempt: entry.lastAttempt?.rfc3339, lastError: entry.lastError,
                    consecutiveFailures: entry.failures)
            }
        }
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    self.track()
                    for (uri, timeout) in self.dueNow() { _ = await self.fetch(uri, timeout: timeout) }
                    try await Task.sleep(for: .milliseconds(500))
                }
            }
        } catch is CancellationError {
            // Graceful shutdown ends the loop wherever it waits.
        }
        try? await client.shutdown()
    }

    /// Fetches `uri` now unless a good set is held; returns the error when it cannot be had.
    /// The write path calls it for the `jwksUri`s of an applied RequestAuthentication.
    public func prefetch(_ uri: String, timeout: Duration) async -> String? {
        let held = entries.withLock { entries -> Bool in
            if entries[uri] == nil { entries[uri] = Entry(timeout: timeout, due: .now + limits.refreshInterval) }
            return entries[uri]?.keys != nil
        }
        if held { return nil }
        return await fetch(uri, timeout: timeout)
    }

    /// Starts tracking the URIs the current context names and forgets the others.
    private func track() {
        guard let push = publisher.current else { return }
        var wanted: [String: Duration] = [:]
        for entry in push.requestAuthentications.all {
            for rule in entry.spec.jwtRules { if let uri = rule.fetchedURI { wanted[uri] = max(wanted[uri] ?? .zero, rule.timeout) } }
        }
        let dropped = entries.withLock { entries -> [String] in
            for (uri, timeout) in wanted {
                if entries[uri] == nil {
                    entries[uri] = Entry(timeout: timeout, due: .now)
                } else {
                    entries[uri]?.timeout = timeout
                    entries[uri]?.since = .now
                }
            }
            let cutoff = ContinuousClock.now - Self.unnamedGrace
            let gone = entries.filter { wanted[$0.key] == nil && $0.value.since < cutoff }.map(\.key)
            for uri in gone { entries.removeValue(forKey: uri) }
            return gone
        }
        if !dropped.isEmpty {
            settings.update { settings in for uri in dropped { settings.fetchedKeySets.removeValue(forKey: uri) } }
            reportHealth()
        }
    }

    private func dueNow() -> [(String, Duration)] {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            entries.filter { $0.value.due <= now }.map { ($0.key, $0.value.timeout) }.sorted { $0.0 < $1.0 }
        }
    }

    /// Fetches once and records the outcome; returns the error, nil on success.
    @discardableResult
    func fetch(_ uri: String, timeout: Duration) async -> String? {
        let outcome: Result<String, JWKSFetchError>
        do {
            outcome = .success(try await download(uri, timeout: timeout))
        } catch let error as JWKSFetchError {
            outcome = .failure(error)
        } catch {
            outcome = .failure(JWKSFetchError("\(error)"))
        }
        let now = Date()
        let failure: String? = if case .failure(let error) = outcome { error.message } else { nil }
        let (changed, message) = entries.withLock { entries -> (String?, String?) in
            // Forgotten meanwhile (no policy names it any more): the outcome is only reported.
            guard var entry = entries[uri] else { return (nil, failure) }
            entry.lastAttempt = now
            var changed: String?
            switch outcome {
            case .success(let text):
                if entry.keys != text { changed = text }
                entry.keys = text
                entry.lastSuccess = now
                entry.lastError = nil
                entry.failures = 0
                entry.due = .now + limits.refreshInterval
            case .failure(let error):
                entry.lastError = error.message
                entry.failures += 1
                var delay = limits.retryInterval
                for _ in 1..<min(entry.failures, 20) where delay < limits.refreshInterval { delay *= 2 }
                entry.due = .now + max(.seconds(1), min(delay, limits.refreshInterval))
            }
            entries[uri] = entry
            return (changed, entry.lastError)
        }
        if let changed {
            settings.update { $0.fetchedKeySets[uri] = changed }
            logger.notice("JWKS fetched", metadata: ["uri": "\(uri)", "kids": "\(JWKSDocument.keyIDs(in: changed))"])
        }
        if let message { logger.warning("JWKS fetch failed; the last good keys stay", metadata: ["uri": "\(uri)", "error": "\(message)"]) }
        reportHealth()
        return message
    }

    private func reportHealth() {
        let failing = statuses.filter { $0.lastError != nil }
        health.set(
            "jwks",
            failing.isEmpty
                ? nil
                : "\(failing.count) jwksUri(s) cannot be fetched; proxies keep the last good keys (tokens of an issuer without any are refused): "
                    + failing.prefix(3).map { "\($0.uri) (\($0.lastError ?? ""))" }.joined(separator: ", ") + " (see /debug/jwks)")
    }

    /// The key set at `uri`, or, for an issuer's OpenID discovery document, at the document's
    /// `jwks_uri` (both bounded by `timeout` and `limits.maxBytes`).
    private func download(_ uri: String, timeout: Duration) async throws -> String {
        guard uri.hasSuffix(RequestAuthentication.JWTRule.discoverySuffix) else {
            return try await downloadKeySet(uri, timeout: timeout)
        }
        let document = try await get(uri, timeout: timeout)
        guard let value = try? JSONValue.parse(json: document), case .string(let keys)? = value["jwks_uri"] else {
            throw JWKSFetchError("the OpenID discovery document has no \"jwks_uri\" string")
        }
        return try await downloadKeySet(keys, timeout: timeout)
    }

    /// GET `uri`; the text of a valid public key set.
    private func downloadKeySet(_ uri: String, timeout: Duration) async throws -> String {
        let text = try await get(uri, timeout: timeout)
        if let problem = JWKSDocument.problem(in: text) { throw JWKSFetchError(problem) }
        return text
    }

    /// GET `uri`, bounded by `timeout` and `limits.maxBytes`; the body of a 2xx answer.
    private func get(_ uri: String, timeout: Duration) async throws -> String {
        guard let parsed = JWKSURI(uri) else { throw JWKSFetchError("\(uri) is not an http(s) URL") }
        if Self.isLinkLocal(parsed.host) { throw JWKSFetchError("link-local addresses are refused (cloud metadata)") }
        let request = HTTPClientRequest(url: uri)
        let deadline =
            NIODeadline.now() + .milliseconds(Int64(timeout / .milliseconds(1)))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, deadline: deadline)
        } catch {
            throw JWKSFetchError("\(error)".contains("deadlineExceeded") ? "timed out after \(timeout)" : "cannot connect: \(error)")
        }
        guard (200..<300).contains(response.status.code) else {
            let body = (try? await response.body.collect(upTo: 4096)).map { String(buffer: $0) } ?? ""
            throw JWKSFetchError("HTTP \(response.status.code): \(body.prefix(100))")
        }
        if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > limits.maxBytes {
            throw JWKSFetchError("the key set is \(length) bytes, over the \(limits.maxBytes)-byte limit")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await response.body.collect(upTo: limits.maxBytes)
        } catch is NIOTooManyBytesError {
            throw JWKSFetchError("the key set is over the \(limits.maxBytes)-byte limit")
        } catch {
            throw JWKSFetchError("reading the answer failed: \(error)")
        }
        return String(buffer: buffer)
    }

    /// 169.254.0.0/16 and fe80::/10, by literal address.
    static func isLinkLocal(_ host: String) -> Bool {
        if host.hasPrefix("169.254.") { return true }
        let lower = host.lowercased()
        return ["fe8", "fe9", "fea", "feb"].contains { lower.hasPrefix($0) } && lower.contains(":")
    }
}

/// Why a key set could not be had.
struct JWKSFetchError: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

import Crypto
import Foundation
import Logging
import MeshCommon
import MeshModel
import PushPipeline
import ServiceLifecycle
import Synchronization
import Translator

/// Keeps meshd's mesh configuration (`--mesh-config FILE`, Istio's MeshConfig YAML) in force:
/// reads the file at start (a bad file stops meshd there), then looks at it every
/// `pollInterval` and applies a changed one.
///
/// Only a change of content counts (the file's SHA-256), so touching the file or Kubernetes'
/// symlink swap of a ConfigMap volume without new text does nothing. A changed file that fails
/// validation is refused whole: the last good configuration stays in force, the error is logged,
/// shown by `/debug/mesh` and named in `/ready` (`mesh-config`) until a good file replaces it. A
/// good one updates the `MeshSettingsSource`, which rebuilds and pushes to every proxy.
/// `trustDomain` names meshd's CA and every workload identity: it is read at start only, and a
/// reload that changes it is refused.
public final class MeshConfigWatcher: Service, Sendable {
    /// What `/debug/mesh` shows.
    public struct Status: Sendable, Codable, Hashable {
        /// The file watched.
        public var path: String
        /// SHA-256 (hex) of the text in force.
        public var sha256: String
        /// When the text in force was loaded (RFC 3339).
        public var loadedAt: String
        /// The file's document in force, as JSON.
        public var config: JSONValue
        /// The settings meshd derived from it.
        public var effective: Effective
        /// Fields of Istio's MeshConfig in the file that meshd does not act on.
        public var notHonoured: [String]
        /// Why the file's current text is not in force, when it is not.
        public var error: String?
    }

    /// The settings in force, for `/debug/mesh`.
    public struct Effective: Sendable, Codable, Hashable {
        public var rootNamespace: String
        public var trustDomain: String
        public var extensionProviders: [Provider]

        public init(rootNamespace: String, trustDomain: String, extensionProviders: [Provider]) {
            self.rootNamespace = rootNamespace
            self.trustDomain = trustDomain
            self.extensionProviders = extensionProviders
        }

        /// One provider: name, kind and, for authorizers, the service called.
        public struct Provider: Sendable, Codable, Hashable {
            public var name: String
            public var kind: String
            public var service: String?
            public var port: UInt32?
        }
    }

    /// A read and validated file.
    public struct Loaded: Sendable {
        public var text: String
        public var sha256: String
        public var parsed: MeshConfig.Loaded
    }

    private let path: String
    private let settings: MeshSettingsSource
    private let health: ServingHealth
    private let trustDomain: String
    private let defaultRootNamespace: String
    private let pollInterval: Duration
    private let logger: Logger
    private let state: Mutex<Status>

    /// Reads and validates `path`.
    /// - Throws: `MeshModelError` naming the field, or the file system's error.
    public static func load(path: String) throws -> Loaded {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let text = String(data: data, encoding: .utf8) else {
            throw MeshModelError(code: .malformed, message: "\(path) is not UTF-8 text")
        }
        let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        return Loaded(text: text, sha256: digest, parsed: try MeshConfig.parse(text))
    }

    /// A watcher of `path`, whose text `initial` meshd started with (already applied to
    /// `settings`). `trustDomain` is meshd's; `defaultRootNamespace` what applies when the file
    /// leaves `rootNamespace` out.
    public init(
        path: String, initial: Loaded, settings: MeshSettingsSource, health: ServingHealth, trustDomain: String,
        defaultRootNamespace: String, pollInterval: Duration = .seconds(1), logger: Logger
    ) {
        self.path = path
        self.settings = settings
        self.health = health
        self.trustDomain = trustDomain
        self.defaultRootNamespace = defaultRootNamespace
        self.pollInterval = pollInterval
        self.logger = logger
        self.state = Mutex(
            Status(
                path: path, sha256: initial.sha256, loadedAt: Date().rfc3339, config: initial.parsed.document,
                effective: Self.effective(initial.parsed.config, trustDomain: trustDomain, rootNamespace: defaultRootNamespace),
                notHonoured: initial.parsed.notHonoured.map(\.path), error: nil))
        Self.logNotHonoured(initial.parsed, path: path, logger: logger)
    }

    /// What `/debug/mesh` shows now.
    public var status: Status { state.withLock { $0 } }

    /// The settings a mesh config gives, over meshd's `rootNamespace` default.
    public static func apply(_ config: MeshConfig, rootNamespace: String, to settings: inout MeshSettings) {
        settings.rootNamespace = config.rootNamespace ?? rootNamespace
        settings.extensionProviders = config.extensionProviders
        settings.telemetry = config.telemetry
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: self.pollInterval)
                self.check()
            }
        }
    }

    /// Looks at the file once and applies it if its content changed (tests call it directly).
    public func check() {
        let known = state.withLock { $0.sha256 }
        let loaded: Loaded
        do {
            loaded = try Self.load(path: path)
        } catch let error as MeshModelError {
            refuse("\(error.description)")
            return
        } catch {
            // A file briefly missing during a swap is not a new configuration.
            refuse("cannot read \(path): \(error.localizedDescription)")
            return
        }
        guard loaded.sha256 != known else {
            clearError()
            return
        }
        if let domain = loaded.parsed.config.trustDomain, domain != trustDomain {
            refuse("trustDomain \"\(domain)\" differs from the trust domain meshd runs with (\"\(trustDomain)\"); it changes only with a restart")
            return
        }
        settings.update { Self.apply(loaded.parsed.config, rootNamespace: defaultRootNamespace, to: &$0) }
        state.withLock { status in
            status.sha256 = loaded.sha256
            status.loadedAt = Date().rfc3339
            status.config = loaded.parsed.document
            status.effective = Self.effective(loaded.parsed.config, trustDomain: trustDomain, rootNamespace: defaultRootNamespace)
            status.notHonoured = loaded.parsed.notHonoured.map(\.path)
            status.error = nil
        }
        health.set("mesh-config", nil)
        logger.notice("mesh config reloaded", metadata: ["path": "\(path)", "sha256": "\(loaded.sha256)"])
        Self.logNotHonoured(loaded.parsed, path: path, logger: logger)
    }

    private func refuse(_ message: String) {
        let isNew = state.withLock { status in
            defer { status.error = message }
            return status.error != message
        }
        health.set("mesh-config", "\(path) is not in force (\(message)); the last good mesh config stays")
        if isNew { logger.error("invalid mesh config; keeping the last good one", metadata: ["path": "\(path)", "error": "\(message)"]) }
    }

    private func clearError() {
        let had = state.withLock { status in
            defer { status.error = nil }
            return status.error != nil
        }
        if had { health.set("mesh-config", nil) }
    }

    private static func logNotHonoured(_ parsed: MeshConfig.Loaded, path: String, logger: Logger) {
        for finding in parsed.notHonoured {
            logger.warning("mesh config field not yet honoured by meshd", metadata: ["path": "\(path)", "field": "\(finding.path)"])
        }
    }

    static func effective(_ config: MeshConfig, trustDomain: String, rootNamespace: String) -> Effective {
        Effective(
            rootNamespace: config.rootNamespace ?? rootNamespace, trustDomain: trustDomain,
            extensionProviders: config.extensionProviders.map { provider in
                .init(name: provider.name, kind: provider.kindName, service: provider.endpoint?.service, port: provider.endpoint?.port)
            })
    }
}

import EnvoyAPI
import Foundation
import Logging
import SwiftASN1
import Synchronization
import X509

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Secrets read from files a gateway's Envoy names over SDS, under istio-agent's names (what
/// istiod, and meshd, put in a Gateway server's TLS context for `serverCertificate`,
/// `privateKey` and `caCertificates`):
/// - `file-cert:CERT~KEY`: a `tls_certificate` with the chain in CERT and the key in KEY;
/// - `file-root:CA`: a `validation_context` trusting the bundle in CA.
///
/// A name is watched from the first request that asks for it. Files are checked every
/// `interval` (by modification time, size and inode, so a Kubernetes secret volume's symlink
/// swap counts) and read again when they change; the new content is published to the
/// `SecretStore`, which pushes it to every stream holding it. Content must be PEM (a certificate
/// chain and a private key, or CA certificates) within 64 KiB per file: the SDS socket serves
/// only what is shaped like credentials, never an arbitrary file. A file that is missing or
/// malformed leaves the last good content served and is logged once per problem, naming the
/// file, never its content.
final class FileSecretWatcher: Sendable {
    /// The SDS name prefixes this watcher serves.
    static let certificatePrefix = "file-cert:"
    static let rootPrefix = "file-root:"
    /// The largest file read.
    static let maximumFileBytes = 65_536
    /// How many file names are watched at most (Envoy names a handful; the bound keeps a
    /// misbehaving client from growing the agent without end).
    static let maximumWatched = 256

    /// What a name asks for.
    enum Request: Sendable, Hashable {
        case certificate(chain: String, key: String)
        case root(String)

        /// The request `name` makes, or nil when it is not a file name (or malformed).
        init?(name: String) {
            if name.hasPrefix(FileSecretWatcher.certificatePrefix) {
                let paths = name.dropFirst(FileSecretWatcher.certificatePrefix.count).split(separator: "~", omittingEmptySubsequences: false)
                guard paths.count == 2, !paths[0].isEmpty, !paths[1].isEmpty else { return nil }
                self = .certificate(chain: String(paths[0]), key: String(paths[1]))
            } else if name.hasPrefix(FileSecretWatcher.rootPrefix) {
                let path = String(name.dropFirst(FileSecretWatcher.rootPrefix.count))
                guard !path.isEmpty else { return nil }
                self = .root(path)
            } else {
                return nil
            }
        }

        var paths: [String] {
            switch self {
            case .certificate(let chain, let key): [chain, key]
            case .root(let path): [path]
            }
        }
    }

    /// What identifies a file's content without reading it.
    struct Fingerprint: Sendable, Hashable {
        var modified: Int
        var modifiedNanoseconds: Int
        var size: Int
        var inode: UInt64
    }

    private struct Watched {
        var request: Request
        /// The fingerprints of the content served (nil: nothing read yet, or the files are gone).
        var fingerprints: [Fingerprint?]?
        var entry: WorkloadSecrets.Entry?
        /// The last problem logged, so a broken file is reported once, not every interval.
        var problem: String?
    }

    private let store: SecretStore
    private let logger: Logger
    /// Held for a whole refresh (reads and the publish): the periodic one and a request's never
    /// interleave, so an older read cannot overwrite or outrun a newer one.
    private let watched = Mutex<[String: Watched]>([:])

    init(store: SecretStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Starts watching the file names among `names`; those not watched before are read now, so
    /// the answer to the request that asked for them can carry them.
    func watch(_ names: some Sequence<String>) {
        let added = watched.withLock { watched in
            var added = false
            for name in names where watched[name] == nil {
                guard let request = Request(name: name) else { continue }
                guard watched.count < Self.maximumWatched else {
                    logger.warning("too many file secrets asked for; this one is not served", metadata: ["name": "\(name.prefix(300))"])
                    continue
                }
                watched[name] = Watched(request: request)
                added = true
            }
            return added
        }
        if added { refresh() }
    }

    /// Checks every interval until cancelled.
    func run(interval: Duration = .seconds(1)) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            refresh()
        }
    }

    /// Reads what changed and publishes the file secrets when any did.
    func refresh() {
        watched.withLock { watched in
            var changed = false
            for name in watched.keys {
                guard var item = watched[name] else { continue }
                let fingerprints = item.request.paths.map(Self.fingerprint)
                guard fingerprints != item.fingerprints else { continue }
                item.fingerprints = fingerprints
                do throws(Problem) {
                    item.entry = WorkloadSecrets.entry(try Self.secret(name: name, request: item.request))
                    item.problem = nil
                    changed = true
                    logger.info("file secret loaded", metadata: ["name": "\(name)"])
                } catch {
                    if item.problem != error.description {
                        logger.warning(
                            "file secret cannot be served; the last good content (if any) stays",
                            metadata: ["name": "\(name)", "problem": "\(error.description)"])
                    }
                    item.problem = error.description
                }
                watched[name] = item
            }
            if changed { store.publishFiles(watched.compactMapValues(\.entry)) }
        }
    }

    /// Why a file secret cannot be served: names the file, never its content.
    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// The secret `name` serves, from its files.
    static func secret(name: String, request: Request) throws(Problem) -> Envoy_Extensions_TransportSockets_Tls_V3_Secret {
        var secret = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
        secret.name = name
        switch request {
        case .certificate(let chainPath, let keyPath):
            let chain = try read(chainPath)
            try checkCertificates(chain, path: chainPath)
            let key = try read(keyPath)
            try checkKey(key, path: keyPath)
            secret.tlsCertificate.certificateChain.inlineBytes = Data(chain.utf8)
            secret.tlsCertificate.privateKey.inlineBytes = Data(key.utf8)
        case .root(let path):
            let bundle = try read(path)
            try checkCertificates(bundle, path: path)
            secret.validationContext.trustedCa.inlineBytes = Data(bundle.utf8)
        }
        return secret
    }

    private static func read(_ path: String) throws(Problem) -> String {
        guard let fingerprint = fingerprint(path) else { throw Problem(description: "\(path) cannot be read") }
        guard fingerprint.size <= maximumFileBytes else { throw Problem(description: "\(path) is larger than \(maximumFileBytes) bytes") }
        guard let data = FileManager.default.contents(atPath: path), data.count <= maximumFileBytes else {
            throw Problem(description: "\(path) cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw Problem(description: "\(path) is not PEM text") }
        return text
    }

    private static func checkCertificates(_ text: String, path: String) throws(Problem) {
        let documents = (try? PEMDocument.parseMultiple(pemString: text)) ?? []
        let certificates = documents.filter { $0.discriminator == "CERTIFICATE" }
        guard !certificates.isEmpty, certificates.allSatisfy({ (try? Certificate(pemDocument: $0)) != nil }) else {
            throw Problem(description: "\(path) holds no well-formed PEM certificate")
        }
    }

    private static func checkKey(_ text: String, path: String) throws(Problem) {
        // Other blocks (the `EC PARAMETERS` `openssl ecparam -genkey` writes first) are allowed,
        // as Envoy skips them; exactly one private key is required.
        let documents = (try? PEMDocument.parseMultiple(pemString: text)) ?? []
        guard documents.filter({ $0.discriminator.hasSuffix("PRIVATE KEY") }).count == 1 else {
            throw Problem(description: "\(path) does not hold exactly one PEM private key")
        }
    }

    /// The file's fingerprint (following symlinks), nil when it cannot be stat'ed.
    static func fingerprint(_ path: String) -> Fingerprint? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        #if canImport(Darwin)
        let modified = (Int(info.st_mtimespec.tv_sec), Int(info.st_mtimespec.tv_nsec))
        #else
        let modified = (Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec))
        #endif
        return Fingerprint(modified: modified.0, modifiedNanoseconds: modified.1, size: Int(info.st_size), inode: UInt64(info.st_ino))
    }
}

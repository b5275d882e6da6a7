import Crypto
import EnvoyAPI
import Foundation
import SwiftProtobuf

/// The secrets mesh-agent serves over SDS, built from the certificate it holds, under the names
/// istio-agent uses so meshd's (and Istio's) Envoy config works unchanged:
/// - `default`: a `tls_certificate` with the workload's chain and private key;
/// - `ROOTCA`: a `validation_context` whose `trusted_ca` is the mesh trust bundle.
///
/// Bytes are inline (as istio-agent sends them): Envoy never reads the key from disk.
///
/// A generation may also carry secrets read from files a gateway's Envoy names
/// (`file-cert:CERT~KEY`, `file-root:CA`; see `FileSecretWatcher`), added with `adding(_:)`.
struct WorkloadSecrets: Sendable, Equatable {
    /// The identity certificate secret's name.
    static let certificateName = "default"
    /// The trust bundle secret's name.
    static let rootName = "ROOTCA"
    /// Every name served.
    static let names = [certificateName, rootName]
    /// The SDS resource type.
    static let typeURL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

    /// One served secret and the hash of its serialized bytes (its Delta version).
    struct Entry: Sendable, Equatable {
        let secret: Envoy_Extensions_TransportSockets_Tls_V3_Secret
        let version: String
    }

    /// The secrets by name.
    let entries: [String: Entry]
    /// This generation's version: a hash of every entry, so a rotation (or a new root) is a new
    /// version and an agent restarted on the same files serves the same one.
    let version: String
    /// The order in which the `SecretStore` published generations (0 before it stamps one): a
    /// stream that already holds a later generation ignores an earlier one still queued for it.
    var sequence: UInt64 = 0

    /// The secrets of a certificate the agent holds.
    init(certificate: IssuedCertificate) {
        self.init(chainPEM: certificate.chainPEM, keyPEM: certificate.keyPEM, rootPEM: certificate.rootPEM)
    }

    /// The secrets of a chain (leaf first), its key and the trust bundle, all PEM.
    init(chainPEM: String, keyPEM: String, rootPEM: String) {
        var tls = Envoy_Extensions_TransportSockets_Tls_V3_TlsCertificate()
        tls.certificateChain.inlineBytes = Data(chainPEM.utf8)
        tls.privateKey.inlineBytes = Data(keyPEM.utf8)
        var defaultSecret = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
        defaultSecret.name = Self.certificateName
        defaultSecret.tlsCertificate = tls

        var validation = Envoy_Extensions_TransportSockets_Tls_V3_CertificateValidationContext()
        validation.trustedCa.inlineBytes = Data(rootPEM.utf8)
        var rootSecret = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
        rootSecret.name = Self.rootName
        rootSecret.validationContext = validation

        var entries: [String: Entry] = [:]
        for secret in [defaultSecret, rootSecret] {
            entries[secret.name] = Self.entry(secret)
        }
        self.init(entries: entries)
    }

    /// A generation of exactly `entries`; its version covers the workload's secrets first, then
    /// the others by name, so a generation without file secrets keeps the version it always had.
    private init(entries: [String: Entry]) {
        self.entries = entries
        let order = Self.names + entries.keys.filter { !Self.names.contains($0) }.sorted()
        self.version = Self.digest(Data(order.compactMap { entries[$0]?.version }.joined(separator: ",").utf8))
    }

    /// This generation with `extra` secrets besides the workload's own (which they cannot replace).
    func adding(_ extra: [String: Entry]) -> WorkloadSecrets {
        guard !extra.isEmpty else { return self }
        return WorkloadSecrets(entries: entries.merging(extra) { own, _ in own })
    }

    /// A served secret with its content version.
    static func entry(_ secret: Envoy_Extensions_TransportSockets_Tls_V3_Secret) -> Entry {
        Entry(secret: secret, version: hash(secret))
    }

    /// The secret named `name` packed for a response, or nil when the agent does not serve it.
    func packed(_ name: String) throws -> Google_Protobuf_Any? {
        guard let entry = entries[name] else { return nil }
        return try Google_Protobuf_Any(message: entry.secret)
    }

    private static func hash(_ secret: Envoy_Extensions_TransportSockets_Tls_V3_Secret) -> String {
        // Deterministic serialization: equal secrets hash equal across runs.
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return digest((try? secret.serializedData(options: options)) ?? Data())
    }

    /// The first 16 hex digits of SHA-256: enough to tell generations apart, short in logs.
    private static func digest(_ data: Data) -> String {
        SHA256.hash(data: data).prefix(8).map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }
}

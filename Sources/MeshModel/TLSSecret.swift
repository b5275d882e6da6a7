import Foundation
import MeshCommon

/// The stored form of a gateway TLS credential (kind `Secret`, type `kubernetes.io/tls`): what
/// may be shown of it, and the digest naming its key material in the store's credential vault.
///
/// The spec never holds a key or a certificate: history, diffs, dry runs, `get` and `/debug`
/// show resources, and none of them can show what a resource does not hold. The material is
/// read from the vault by digest when a push context is built.
///
/// ```yaml
/// spec:
///   type: kubernetes.io/tls
///   certificate: {subject: CN=reviews.example.com, subjectAltNames: [reviews.example.com],
///                 serial: 0a1b…, notAfter: "2027-12-06T00:00:00Z"}
///   clientCA: true          # a CA bundle was given: served as NAME-cacert
///   material: sha256:…      # the vault entry (digest of certificate, key and CA)
/// ```
public struct TLSSecret: Sendable, Hashable {
    /// The only type meshd stores (Kubernetes' TLS secret type).
    public static let tlsType = "kubernetes.io/tls"

    /// The leaf certificate's subject (RFC 4514).
    public var subject: String
    /// The leaf's DNS names, IP addresses and URIs.
    public var subjectAltNames: [String]
    /// The leaf's serial number, hex.
    public var serial: String
    /// When the leaf expires.
    public var notAfter: Date
    /// Whether a client CA bundle was given (served as `NAME-cacert`).
    public var hasClientCA: Bool
    /// `sha256:HEX`: the vault entry holding the certificate chain, key and CA bundle.
    public var material: String

    /// Creates a spec.
    public init(subject: String, subjectAltNames: [String], serial: String, notAfter: Date, hasClientCA: Bool, material: String) {
        self.subject = subject
        self.subjectAltNames = subjectAltNames
        self.serial = serial
        self.notAfter = notAfter
        self.hasClientCA = hasClientCA
        self.material = material
    }

    /// The spec as stored.
    public var json: JSONValue {
        .object([
            "type": .string(Self.tlsType),
            "certificate": .object([
                "subject": .string(subject),
                "subjectAltNames": .array(subjectAltNames.map(JSONValue.string)),
                "serial": .string(serial),
                "notAfter": .string(notAfter.rfc3339),
            ]),
            "clientCA": .bool(hasClientCA),
            "material": .string(material),
        ])
    }

    /// A resource holding this spec.
    public func resource(namespace: String, name: String, labels: [String: String] = [:]) -> ConfigResource {
        ConfigResource(
            key: ConfigKey(kind: .secret, namespace: namespace, name: name), apiVersion: "v1", labels: labels,
            annotations: [:], spec: json)
    }
}

extension TLSSecret {
    /// Reads a stored spec; every field is meshd's own, so any other field is refused.
    init(reading spec: FieldReader) throws(MeshModelError) {
        try Self.refuseUnknown(spec, allowed: ["type", "certificate", "clientCA", "material"])
        _ = try spec["type"].oneOf([Self.tlsType], what: "type")
        let certificate = spec["certificate"]
        try Self.refuseUnknown(certificate, allowed: ["subject", "subjectAltNames", "serial", "notAfter"])
        subject = try certificate["subject"].string() ?? ""
        subjectAltNames = try certificate["subjectAltNames"].strings()
        serial = try certificate["serial"].requiredString()
        let expiry = try certificate["notAfter"].requiredString()
        guard let date = Date(rfc3339: expiry) else {
            throw certificate["notAfter"].error("not an RFC 3339 time: \"\(expiry.prefix(40))\"")
        }
        notAfter = date
        hasClientCA = try spec["clientCA"].boolean() ?? false
        material = try spec["material"].requiredString()
        let hex = material.dropFirst("sha256:".count)
        guard material.hasPrefix("sha256:"), hex.count == 64, hex.allSatisfy(\.isHexDigit) else {
            throw spec["material"].error("must be sha256: and 64 hex digits")
        }
    }

    private static func refuseUnknown(_ reader: FieldReader, allowed: Set<String>) throws(MeshModelError) {
        for (key, member) in try reader.members() where !allowed.contains(key) {
            throw member.error("unknown field \"\(key)\"")
        }
    }
}

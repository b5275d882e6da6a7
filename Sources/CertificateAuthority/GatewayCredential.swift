import Crypto
import Foundation
import MeshCommon
import SwiftASN1
import X509

/// A TLS credential an operator gives meshd for gateway servers (`credentialName`): a certificate
/// chain (leaf first), its private key and, for MUTUAL servers, the CA bundle client certificates
/// must chain to (served as `NAME-cacert`).
///
/// `check` is what a secret store accepts: well-formed PEM within the size bound, a private key
/// that belongs to the leaf certificate, a leaf valid now; a leaf that expires within 30 days
/// (or is not valid yet) is accepted with a warning. Nothing here ever prints key material:
/// errors and `description` name the certificate, never the key.
public struct GatewayCredential: Sendable, Equatable, CustomStringConvertible {
    /// What may be shown of a credential: its leaf certificate's names, serial and validity.
    public struct Summary: Sendable, Equatable {
        /// The leaf's subject (RFC 4514 form).
        public var subject: String
        /// The leaf's subject alternative names: DNS names, IP addresses and URIs, as written.
        public var subjectAltNames: [String]
        /// The leaf's serial number, hex.
        public var serial: String
        /// When the leaf expires.
        public var notAfter: Date
    }

    /// The chain, as given (leaf first), PEM.
    public let chainPEM: String
    /// The private key, PEM (PKCS#8, SEC1 or PKCS#1).
    public let keyPEM: String
    /// The client CA bundle, PEM, when one was given.
    public let caPEM: String?
    /// What may be shown.
    public let summary: Summary
    /// Warnings for the answer (expiry within 30 days, not valid yet).
    public let warnings: [String]

    /// `sha256:HEX` over the chain, key and CA bundle (each length-prefixed, so no two
    /// credentials share one): what the credential vault names this material by. Equal
    /// credentials have equal digests, so storing one again changes nothing.
    public var digest: String {
        var hasher = SHA256()
        for part in [chainPEM, keyPEM, caPEM ?? ""] {
            let bytes = Array(part.utf8)
            withUnsafeBytes(of: UInt64(bytes.count).bigEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(data: bytes)
        }
        hasher.update(data: [caPEM == nil ? 0 : 1])
        return "sha256:" + hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// How close to its expiry a leaf is warned about.
    public static let expiryWarningWindow: TimeInterval = 30 * 86_400

    /// Checks a credential: `certificatePEM` (the chain, leaf first), `keyPEM`, and the optional
    /// client CA bundle `caPEM`, at `now`.
    /// - Throws: `CAError.invalidArgument` naming the part at fault.
    public static func check(certificatePEM: String, keyPEM: String, caPEM: String? = nil, now: Date = Date()) throws(CAError)
        -> GatewayCredential
    {
        for (part, text) in [("certificate", certificatePEM), ("key", keyPEM), ("CA bundle", caPEM ?? "")]
        where text.utf8.count > SigningRequest.maximumPEMBytes {
            throw CAError(code: .invalidArgument, message: "the \(part) is larger than \(SigningRequest.maximumPEMBytes) bytes")
        }
        let chain: [Certificate]
        do {
            chain = try PEMCertificates.parse(certificatePEM, source: "the certificate")
        } catch {
            throw CAError(code: .invalidArgument, message: error.message, cause: error.cause)
        }
        let leaf = chain[0]
        do {
            _ = try LocalCertificateAuthority.loadKey(keyPEM, source: "the key", matching: leaf, certificateSource: "the certificate")
        } catch {
            throw CAError(code: .invalidArgument, message: error.message)
        }
        if let caPEM {
            do {
                _ = try PEMCertificates.parse(caPEM, source: "the CA bundle")
            } catch {
                throw CAError(code: .invalidArgument, message: error.message, cause: error.cause)
            }
        }
        let serial = leaf.serialNumber.bytes.map { String(format: "%02x", $0) }.joined()
        guard leaf.notValidAfter > now else {
            throw CAError(
                code: .invalidArgument,
                message: "the certificate (serial \(serial)) expired at \(leaf.notValidAfter.rfc3339)")
        }
        var warnings: [String] = []
        if leaf.notValidBefore > now {
            warnings.append("the certificate (serial \(serial)) is not valid before \(leaf.notValidBefore.rfc3339)")
        }
        if leaf.notValidAfter.timeIntervalSince(now) < expiryWarningWindow {
            let days = Int(leaf.notValidAfter.timeIntervalSince(now) / 86_400)
            warnings.append(
                "the certificate (serial \(serial)) expires in \(days) day(s), at \(leaf.notValidAfter.rfc3339)")
        }
        let summary = Summary(
            subject: leaf.subject.description, subjectAltNames: subjectAltNames(of: leaf), serial: serial, notAfter: leaf.notValidAfter)
        return GatewayCredential(chainPEM: certificatePEM, keyPEM: keyPEM, caPEM: caPEM, summary: summary, warnings: warnings)
    }

    /// The summary; never the key.
    public var description: String {
        "credential \(summary.subject) serial \(summary.serial) (SANs \(summary.subjectAltNames.joined(separator: ", ")))"
    }

    private static func subjectAltNames(of certificate: Certificate) -> [String] {
        guard let names = try? certificate.extensions.subjectAlternativeNames else { return [] }
        return names.compactMap { name in
            switch name {
            case .dnsName(let dns): dns
            case .uniformResourceIdentifier(let uri): uri
            case .ipAddress(let octets): ipText(Array(octets.bytes))
            default: nil
            }
        }
    }

    private static func ipText(_ bytes: [UInt8]) -> String? {
        switch bytes.count {
        case 4: return bytes.map(String.init).joined(separator: ".")
        case 16:
            return stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }.joined(separator: ":")
        default: return nil
        }
    }
}

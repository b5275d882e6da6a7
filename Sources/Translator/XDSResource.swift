import Crypto
import EnvoyAPI
import Foundation
import SwiftProtobuf

/// One generated xDS resource, encoded once and shared by every proxy that receives it.
///
/// `version` is derived from the encoded bytes, so the same content always carries the same
/// version string — across proxies and across meshd restarts.
public struct XDSResource: Sendable, Hashable {
    /// The resource name (listener, route configuration, cluster or cluster-load-assignment name).
    public let name: String
    /// The packed resource, as it goes into `DiscoveryResponse.resources`.
    public let payload: Google_Protobuf_Any
    /// A content hash of the encoded resource.
    public let version: String
    /// Names of resources of other types this one needs before it can be used (the clusters a
    /// route configuration sends traffic to); drives make-before-break ordering.
    public let dependencies: [String]
    /// This (name, version) pair as 64 well-mixed bits: a set's version is the wrapping sum of
    /// its members' digests, computed once here rather than hashed again per response.
    public let setDigest: UInt64

    /// Encodes `message` deterministically and derives its version.
    public init(name: String, message: some SwiftProtobuf.Message, dependencies: [String] = []) {
        let any = AnyPacking.pack(message)
        let digest = ContentVersion.digest(any.value)
        self.name = name
        self.payload = any
        self.version = ContentVersion.hex(digest)
        self.dependencies = dependencies
        self.setDigest = ContentVersion.memberDigest(name: name, digest: digest)
    }

    /// The type URL of the packed message.
    public var typeURL: String { payload.typeURL }
}

/// Content-derived version strings.
public enum ContentVersion {
    /// The first 16 hex digits of SHA-256 over `bytes`.
    public static func of(_ bytes: Data) -> String {
        hex(digest(bytes))
    }

    /// A version for a set of resources: independent of input order, the same in every process
    /// (no per-process hash seed), and O(1) per member because each resource carries its digest.
    public static func of(_ resources: some Sequence<XDSResource>) -> String {
        hex(resources.reduce(UInt64(0)) { $0 &+ $1.setDigest })
    }

    /// The digest `of(_:)` sums for a member known only by name and version string (what a
    /// Delta client declares it holds): equal to `XDSResource.setDigest` for the same pair.
    public static func memberDigest(name: String, version: String) -> UInt64 {
        // A version meshd did not write (not 16 hex digits) still gets a stable digest.
        let digest = version.utf8.count == 16 ? UInt64(version, radix: 16) : nil
        return memberDigest(name: name, digest: digest ?? fnv1a(version))
    }

    /// The version string of a set whose members' digests sum (wrapping) to `sum`.
    public static func version(ofDigestSum sum: UInt64) -> String { hex(sum) }

    static func memberDigest(name: String, digest: UInt64) -> UInt64 {
        mix(fnv1a(name) &+ digest &* 0x9E37_79B9_7F4A_7C15)
    }

    /// The first 8 bytes of SHA-256 over `bytes`, big-endian.
    static func digest(_ bytes: Data) -> UInt64 {
        SHA256.hash(data: bytes).prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// 16 lowercase hex digits.
    static func hex(_ value: UInt64) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<16 { bytes[i] = digits[Int((value >> UInt64(60 - 4 * i)) & 0xF)] }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// FNV-1a over the name's UTF-8: stable across processes, unlike `Hasher`.
    static func fnv1a(_ text: String) -> UInt64 {
        text.utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
    }

    /// SplitMix64's finaliser: spreads every input bit over the output, so sums of mixed values
    /// do not cancel out.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

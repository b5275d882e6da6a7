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

    /// Encodes `message` deterministically and derives its version.
    public init(name: String, message: some SwiftProtobuf.Message, dependencies: [String] = []) {
        let any = AnyPacking.pack(message)
        self.name = name
        self.payload = any
        self.version = ContentVersion.of(any.value)
        self.dependencies = dependencies
    }

    /// The type URL of the packed message.
    public var typeURL: String { payload.typeURL }
}

/// Content-derived version strings.
public enum ContentVersion {
    /// The first 16 hex digits of SHA-256 over `bytes`.
    public static func of(_ bytes: Data) -> String {
        SHA256.hash(data: bytes).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// A version for a set of resources: independent of input order.
    public static func of(_ resources: some Sequence<XDSResource>) -> String {
        let text = resources.map { "\($0.name)=\($0.version)" }.sorted().joined(separator: "\n")
        return of(Data(text.utf8))
    }
}

import PushPipeline
import Translator
import XDSCore

/// A state-of-the-world request, reduced to what the stream state machine decides on
/// (so the machine is testable without protobuf or I/O).
public struct DiscoveryRequestInfo: Sendable, Hashable {
    public var typeURL: String
    public var versionInfo: String
    public var resourceNames: [String]
    public var responseNonce: String
    /// The NACK's error message; nil for a request without `error_detail`.
    public var errorDetail: String?
    /// The node id, present in the first request of a stream.
    public var nodeID: String?

    public init(
        typeURL: String, versionInfo: String = "", resourceNames: [String] = [], responseNonce: String = "",
        errorDetail: String? = nil, nodeID: String? = nil
    ) {
        self.typeURL = typeURL
        self.versionInfo = versionInfo
        self.resourceNames = resourceNames
        self.responseNonce = responseNonce
        self.errorDetail = errorDetail
        self.nodeID = nodeID
    }
}

/// A Delta request, reduced to what `DeltaStreamStateMachine` decides on.
public struct DeltaDiscoveryRequestInfo: Sendable, Hashable {
    public var typeURL: String
    /// `resource_names_subscribe`: names added to the subscription (`*`: wildcard).
    public var subscribe: [String]
    /// `resource_names_unsubscribe`: names dropped from it (`*`: ends wildcard).
    public var unsubscribe: [String]
    /// `initial_resource_versions`: what the client already holds (read on a stream's first
    /// request of a type only).
    public var initialVersions: [String: String]
    public var responseNonce: String
    /// The NACK's error message; nil for a request without `error_detail`.
    public var errorDetail: String?
    /// The node id, present in the first request of a stream.
    public var nodeID: String?

    public init(
        typeURL: String, subscribe: [String] = [], unsubscribe: [String] = [], initialVersions: [String: String] = [:],
        responseNonce: String = "", errorDetail: String? = nil, nodeID: String? = nil
    ) {
        self.typeURL = typeURL
        self.subscribe = subscribe
        self.unsubscribe = unsubscribe
        self.initialVersions = initialVersions
        self.responseNonce = responseNonce
        self.errorDetail = errorDetail
        self.nodeID = nodeID
    }
}

/// A response a stream machine wants sent, in either protocol: state of the world sends
/// `versionInfo` as `version_info`; Delta as `system_version_info`, with each resource's own
/// version and `removedResources`.
public struct DiscoveryResponseInfo: Sendable, Hashable {
    public var typeURL: String
    public var versionInfo: String
    public var nonce: String
    public var resources: [XDSResource]
    /// Delta only: names the proxy must drop.
    public var removedResources: [String] = []

    /// Resource names, sorted, for logs and tests.
    public var names: [String] { resources.map(\.name).sorted() }
}

/// What the server must do or record for a stream, in order (both protocols).
public enum XDSEvent: Sendable, Hashable {
    case send(DiscoveryResponseInfo)
    case acked(typeURL: String, version: String)
    case nacked(typeURL: String, version: String, error: String)
    case ignoredStale(typeURL: String, nonce: String)
    /// A request for a type meshd does not serve (answered empty, not tracked).
    case unknownType(typeURL: String)
}

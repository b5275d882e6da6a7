import Translator

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

    public init(typeURL: String, versionInfo: String = "", resourceNames: [String] = [], responseNonce: String = "",
                errorDetail: String? = nil, nodeID: String? = nil) {
        self.typeURL = typeURL
        self.versionInfo = versionInfo
        self.resourceNames = resourceNames
        self.responseNonce = responseNonce
        self.errorDetail = errorDetail
        self.nodeID = nodeID
    }
}

/// A response the state machine wants sent.
public struct DiscoveryResponseInfo: Sendable, Hashable {
    public var typeURL: String
    public var versionInfo: String
    public var nonce: String
    public var resources: [XDSResource]

    /// Resource names, sorted, for logs and tests.
    public var names: [String] { resources.map(\.name).sorted() }
}

/// Where one proxy stands for one type, as `/debug/syncz` and proxy-status show it.
public enum SyncStatus: String, Sendable, Codable {
    /// The proxy ACKed the latest response.
    case synced = "SYNCED"
    /// A response is unacknowledged, or the proxy NACKed it.
    case stale = "STALE"
    /// Nothing of this type has been sent.
    case notSent = "NOT SENT"
}

/// Per-type status of one stream.
public struct TypeStatus: Sendable, Hashable, Codable {
    public var status: SyncStatus
    public var sentVersion: String?
    public var ackedVersion: String?
    public var sentNonce: String?
    /// The last NACK's error detail, until a later ACK clears it.
    public var error: String?
}

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

    public init(
        status: SyncStatus, sentVersion: String? = nil, ackedVersion: String? = nil, sentNonce: String? = nil,
        error: String? = nil
    ) {
        self.status = status
        self.sentVersion = sentVersion
        self.ackedVersion = ackedVersion
        self.sentNonce = sentNonce
        self.error = error
    }
}

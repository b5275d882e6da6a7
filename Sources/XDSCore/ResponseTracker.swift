/// Nonce and ACK bookkeeping for one xDS type on one stream, the same in state of the world,
/// Delta and SDS: every protocol tells an ACK from a NACK by `error_detail` and ignores stale
/// nonces. A value; not shared between tasks.
public struct ResponseTracker: Sendable {
    /// What a request echoing a nonce turned out to be.
    public enum Answer: Sendable, Hashable {
        case acked(version: String)
        case nacked(version: String, error: String)
        /// Not the latest nonce sent for the type: the proxy answers a response it has since
        /// been sent a newer one of, so its ACK or NACK says nothing about the current one.
        case stale
    }

    /// The nonce of the latest response, nil before the first.
    public private(set) var lastNonce: String?
    /// The version of the latest response.
    public private(set) var lastVersion: String?
    private var ackedNonce: String?
    /// The version the proxy last accepted, nil before its first ACK.
    public private(set) var ackedVersion: String?
    /// The last NACK's error detail, until a later ACK clears it.
    public private(set) var error: String?

    public init() {}

    /// Records a response just built.
    public mutating func sent(nonce: String, version: String) {
        lastNonce = nonce
        lastVersion = version
    }

    /// Reads a request that echoes `nonce`, with `error` its `error_detail` (nil: none).
    public mutating func answer(nonce: String, error: String?) -> Answer {
        guard nonce == lastNonce else { return .stale }
        if let error {
            // Nothing is resent: the proxy would reject the same content again.
            self.error = error
            return .nacked(version: lastVersion ?? "", error: error)
        }
        ackedNonce = lastNonce
        ackedVersion = lastVersion
        self.error = nil
        return .acked(version: lastVersion ?? "")
    }

    /// Where the proxy stands, for `/debug/syncz` and proxy-status.
    public var status: TypeStatus {
        guard let nonce = lastNonce else { return TypeStatus(status: .notSent) }
        let synced = ackedNonce == nonce && error == nil
        return TypeStatus(
            status: synced ? .synced : .stale, sentVersion: lastVersion,
            ackedVersion: ackedVersion, sentNonce: nonce, error: error)
    }
}

/// Nonce and ACK bookkeeping for one xDS type on one stream, the same in state of the world and
/// Delta: both protocols tell an ACK from a NACK by `error_detail` and ignore stale nonces.
struct ResponseTracker: Sendable {
    /// What a request echoing a nonce turned out to be.
    enum Answer: Sendable, Hashable {
        case acked(version: String)
        case nacked(version: String, error: String)
        /// Not the latest nonce sent for the type: the proxy answers a response it has since
        /// been sent a newer one of, so its ACK or NACK says nothing about the current one.
        case stale
    }

    private(set) var lastNonce: String?
    private(set) var lastVersion: String?
    private var ackedNonce: String?
    private var ackedVersion: String?
    /// The last NACK's error detail, until a later ACK clears it.
    private(set) var error: String?

    /// Records a response just built.
    mutating func sent(nonce: String, version: String) {
        lastNonce = nonce
        lastVersion = version
    }

    /// Reads a request that echoes `nonce`, with `error` its `error_detail` (nil: none).
    mutating func answer(nonce: String, error: String?) -> Answer {
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

    /// The answer as the event the server acts on.
    static func event(_ answer: Answer, typeURL: String, nonce: String) -> XDSEvent {
        switch answer {
        case .acked(let version): .acked(typeURL: typeURL, version: version)
        case .nacked(let version, let error): .nacked(typeURL: typeURL, version: version, error: error)
        case .stale: .ignoredStale(typeURL: typeURL, nonce: nonce)
        }
    }

    /// Where the proxy stands, for `/debug/syncz` and proxy-status.
    var status: TypeStatus {
        guard let nonce = lastNonce else { return TypeStatus(status: .notSent) }
        let synced = ackedNonce == nonce && error == nil
        return TypeStatus(status: synced ? .synced : .stale, sentVersion: lastVersion,
                          ackedVersion: ackedVersion, sentNonce: nonce, error: error)
    }
}

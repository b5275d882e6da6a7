/// The nonce bookkeeping both SDS machines share: fresh nonces for responses, and what a
/// request's `response_nonce` and `error_detail` mean (xDS spec).
struct SecretResponseTracker: Sendable {
    private let streamID: String
    private var counter: UInt64 = 0
    private var lastNonce: String?
    private var lastVersion = ""

    /// The version Envoy last accepted, nil before its first ACK.
    private(set) var ackedVersion: String?

    init(streamID: String) {
        self.streamID = streamID
    }

    /// A fresh nonce for a response carrying `version`, remembered as the latest.
    mutating func stamp(version: String) -> String {
        counter += 1
        let nonce = "\(streamID)-\(counter)"
        lastNonce = nonce
        lastVersion = version
        return nonce
    }

    /// What a request says about the responses: nil without a nonce (a new subscription), stale
    /// for a nonce that is not the latest, else an ACK or (with an error) a NACK of the latest.
    mutating func answer(nonce: String, error: String?) -> SecretStreamEvent? {
        guard !nonce.isEmpty else { return nil }
        guard nonce == lastNonce else { return .ignoredStale(nonce: nonce) }
        if let error { return .rejected(version: lastVersion, message: error) }
        ackedVersion = lastVersion
        return .acked(version: lastVersion)
    }
}

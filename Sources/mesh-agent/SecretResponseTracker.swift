import XDSCore

/// The nonce bookkeeping both SDS machines share, on XDSCore's (the same `NonceSequence` and
/// `ResponseTracker` meshd's ADS streams use): fresh nonces for responses, and what a request's
/// `response_nonce` and `error_detail` mean, as SDS events.
struct SecretResponseTracker: Sendable {
    private var nonces: NonceSequence
    private var responses = ResponseTracker()

    /// The version Envoy last accepted, nil before its first ACK.
    var ackedVersion: String? { responses.ackedVersion }

    init(streamID: String) {
        nonces = NonceSequence(streamID: streamID)
    }

    /// A fresh nonce for a response carrying `version`, remembered as the latest.
    mutating func stamp(version: String) -> String {
        let nonce = nonces.next()
        responses.sent(nonce: nonce, version: version)
        return nonce
    }

    /// What a request says about the responses: nil without a nonce (a new subscription), stale
    /// for a nonce that is not the latest, else an ACK or (with an error) a NACK of the latest.
    mutating func answer(nonce: String, error: String?) -> SecretStreamEvent? {
        guard !nonce.isEmpty else { return nil }
        switch responses.answer(nonce: nonce, error: error) {
        case .stale: return .ignoredStale(nonce: nonce)
        case .nacked(let version, let message): return .rejected(version: version, message: message)
        case .acked(let version): return .acked(version: version)
        }
    }
}

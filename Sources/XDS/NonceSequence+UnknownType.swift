import PushPipeline
import XDSCore

extension NonceSequence {
    /// What both protocols do with a request for a type meshd does not serve: a fresh request
    /// gets an empty answer (so the proxy is not left waiting) and an ACK or NACK of that answer
    /// gets nothing. Neither leaves state behind, so a client cannot grow a stream by inventing
    /// types.
    mutating func answerUnknownType(_ typeURL: String, responseNonce: String) -> [XDSEvent] {
        guard responseNonce.isEmpty else { return [.ignoredStale(typeURL: typeURL, nonce: responseNonce)] }
        return [
            .unknownType(typeURL: typeURL),
            .send(DiscoveryResponseInfo(typeURL: typeURL, versionInfo: "", nonce: next(), resources: [])),
        ]
    }
}

/// Fresh response nonces for one stream: `<stream>-<n>`, unique per server because stream ids are.
struct NonceSequence: Sendable {
    private let streamID: String
    private var counter: UInt64 = 0

    init(streamID: String) {
        self.streamID = streamID
    }

    /// The next nonce; never repeats within the stream.
    mutating func next() -> String {
        counter += 1
        return "\(streamID)-\(counter)"
    }

    /// What both protocols do with a request for a type meshd does not serve: a fresh request
    /// gets an empty answer (so the proxy is not left waiting) and an ACK or NACK of that answer
    /// gets nothing. Neither leaves state behind, so a client cannot grow a stream by inventing
    /// types.
    mutating func answerUnknownType(_ typeURL: String, responseNonce: String) -> [XDSEvent] {
        guard responseNonce.isEmpty else { return [.ignoredStale(typeURL: typeURL, nonce: responseNonce)] }
        return [.unknownType(typeURL: typeURL),
                .send(DiscoveryResponseInfo(typeURL: typeURL, versionInfo: "", nonce: next(), resources: []))]
    }
}

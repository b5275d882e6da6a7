/// Fresh response nonces for one stream: `<stream>-<n>`, unique per server because stream ids
/// are (`StreamCounter`). The same in state of the world, Delta and SDS.
public struct NonceSequence: Sendable {
    private let streamID: String
    private var counter: UInt64 = 0

    /// Nonces for the stream `streamID`.
    public init(streamID: String) {
        self.streamID = streamID
    }

    /// The next nonce; never repeats within the stream.
    public mutating func next() -> String {
        counter += 1
        return "\(streamID)-\(counter)"
    }
}

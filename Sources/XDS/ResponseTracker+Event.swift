import PushPipeline
import XDSCore

extension ResponseTracker {
    /// The answer as the event the server acts on.
    static func event(_ answer: Answer, typeURL: String, nonce: String) -> XDSEvent {
        switch answer {
        case .acked(let version): .acked(typeURL: typeURL, version: version)
        case .nacked(let version, let error): .nacked(typeURL: typeURL, version: version, error: error)
        case .stale: .ignoredStale(typeURL: typeURL, nonce: nonce)
        }
    }
}

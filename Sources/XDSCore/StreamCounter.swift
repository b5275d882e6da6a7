import Foundation
import Synchronization

/// Stream ids unique within one process, `PREFIX-N`: they name streams in logs and status and
/// prefix every nonce a stream sends (`NonceSequence`), so nonces never repeat across streams.
/// Thread-safe.
public final class StreamCounter: Sendable {
    private let value = Atomic<UInt64>(0)
    private let prefix: String

    /// A counter whose ids start with `prefix`.
    public init(prefix: String) {
        self.prefix = prefix
    }

    /// A counter whose ids start with the process start time in base 36, so ids stay unique
    /// across restarts of a server proxies reconnect to (meshd's ADS streams).
    public convenience init() {
        self.init(prefix: String(UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970)), radix: 36))
    }

    /// The process's one counter for xDS streams: every ADS server (meshd runs one per port
    /// kind) takes ids from it, so streams of different ports never share an id — in the proxy
    /// status registry they share, and in the nonces they send.
    public static let process = StreamCounter()

    /// The next id.
    public func next() -> String { "\(prefix)-\(value.add(1, ordering: .relaxed).newValue)" }
}

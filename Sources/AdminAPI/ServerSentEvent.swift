import MeshModel
import NIOCore

/// One frame of the dashboard's `text/event-stream` (the WHATWG server-sent events format).
enum ServerSentEvent: Sendable, Hashable {
    /// The store committed a change; `revision` is the revision after it.
    case revision(Int64)
    /// Some connected proxy's state changed (connected, disconnected, synced, stale, NACKed).
    case proxies
    /// A canary made a decision: `{namespace, name, phase, weight, decision, reason, time}`.
    case canary(JSONValue)
    /// A comment line that keeps idle connections (and proxies in between) from timing out.
    case keepAlive

    /// The frame's bytes. `data` is one line of JSON, so no field needs escaping.
    var text: String {
        switch self {
        case .revision(let revision):
            "event: revision\ndata: \(JSONValue.object(["revision": .number(Double(revision))]).canonicalJSON())\n\n"
        case .proxies:
            "event: proxies\ndata: {}\n\n"
        case .canary(let data):
            "event: canary\ndata: \(data.canonicalJSON())\n\n"
        case .keepAlive:
            ": keep-alive\n\n"
        }
    }

    /// The frame as a buffer to write.
    var buffer: ByteBuffer { ByteBuffer(string: text) }

    /// Sent first on every stream: how long a browser's `EventSource` waits before reconnecting.
    static let preamble = "retry: 3000\n\n"
}

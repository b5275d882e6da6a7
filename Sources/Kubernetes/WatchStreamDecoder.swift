import MeshModel

/// Turns what the API server sends into `ListWatchMachine` inputs: a list response into a page,
/// and a watch response — newline-delimited JSON events, in chunks that may split an event
/// anywhere — into events, `gone` for a 410 `Status`, `failed` for anything else it cannot use.
public struct WatchStreamDecoder: Sendable {
    /// The longest event line accepted; longer means a broken or hostile stream.
    public static let maxLineBytes = 16 * 1024 * 1024

    private var buffer: [UInt8] = []

    public init() {}

    /// The inputs of the complete lines in `bytes` (with what earlier chunks left over); a
    /// partial last line is kept for the next chunk.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [ListWatchMachine.Input] {
        buffer.append(contentsOf: bytes)
        var inputs: [ListWatchMachine.Input] = []
        var start = 0
        while let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = buffer[start..<newline]
            start = newline + 1
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { continue }
            inputs.append(Self.event(String(decoding: line, as: UTF8.self)))
        }
        buffer.removeFirst(start)
        if buffer.count > Self.maxLineBytes {
            buffer.removeAll()
            inputs.append(.failed("a watch event longer than \(Self.maxLineBytes) bytes"))
        }
        return inputs
    }

    /// Whether a partial event is buffered (a stream that ends here ended mid-event).
    public var hasPartialEvent: Bool { !buffer.isEmpty }

    /// One event line: `{"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": …}`.
    public static func event(_ line: String) -> ListWatchMachine.Input {
        guard let value = try? JSONValue.parse(json: line), case .string(let type)? = value["type"], let body = value["object"] else {
            return .failed("an undecodable watch event")
        }
        if type == "ERROR" {
            if case .number(let code)? = body["code"], code == 410 { return .gone }
            let message: String = if case .string(let text)? = body["message"] { text } else { "no message" }
            return .failed("watch error: \(message)")
        }
        if type == "BOOKMARK" {
            guard case .string(let version)? = body["metadata"]?["resourceVersion"], !version.isEmpty else {
                return .failed("a bookmark without a resourceVersion")
            }
            return .event(.bookmark(resourceVersion: version))
        }
        guard let object = KubeObject(body: body) else { return .failed("a \(type) event whose object has no name or resourceVersion") }
        switch type {
        case "ADDED": return .event(.added(object))
        case "MODIFIED": return .event(.modified(object))
        case "DELETED": return .event(.deleted(object))
        default: return .failed("an unknown watch event type \"\(type)\"")
        }
    }

    /// A list response (`{"metadata": {"resourceVersion", "continue"}, "items": […]}`) as a
    /// page; a 410 `Status` (an expired continue token) as `gone`.
    public static func listPage(_ text: String) -> ListWatchMachine.Input {
        guard let value = try? JSONValue.parse(json: text) else { return .failed("an undecodable list") }
        if case .string("Status")? = value["kind"] {
            if case .number(let code)? = value["code"], code == 410 { return .gone }
            let message: String = if case .string(let text)? = value["message"] { text } else { "no message" }
            return .failed("list error: \(message)")
        }
        guard case .string(let version)? = value["metadata"]?["resourceVersion"], !version.isEmpty,
            case .array(let items)? = value["items"]
        else { return .failed("a list without metadata.resourceVersion or items") }
        let token: String? = if case .string(let text)? = value["metadata"]?["continue"], !text.isEmpty { text } else { nil }
        // Items of a list carry no kind; they are still whole objects with metadata.
        var objects: [KubeObject] = []
        for item in items {
            guard let object = KubeObject(body: item) else { return .failed("a list item without a name or resourceVersion") }
            objects.append(object)
        }
        return .listPage(items: objects, continueToken: token, resourceVersion: version)
    }
}

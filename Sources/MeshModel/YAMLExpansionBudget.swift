import CYaml

/// Measures what a YAML stream becomes once its aliases are expanded — before anything is
/// expanded — and refuses streams past the budget.
///
/// A YAML alias repeats its anchor's whole subtree, so a 1 KB "billion laughs" body expands to
/// gigabytes, and an alias of a long string repeats the string. Like Kubernetes' YAML reader,
/// meshd bounds the expansion; unlike a ratio check, the cost here is computed exactly from
/// libyaml's event stream in one pass: each anchored node's expanded size is recorded when it
/// ends, and an alias adds that size without copying anything. Nesting depth is checked on the
/// same events, so a deeply nested body is refused before Yams' recursive composer sees it.
struct YAMLExpansionBudget {
    /// The expanded stream may hold at most this many nodes (scalars and collections).
    static let maxNodes = 1_000_000
    /// The expanded stream may be at most this large, measured as compact JSON would be
    /// (scalar bytes plus one per node): the 1 MiB request body limit holds after expansion too.
    static let maxBytes = 1 << 20
    /// Collections may nest at most this deep.
    static let maxDepth = 256

    /// The expanded size of a subtree.
    private struct Size {
        var nodes = 0
        var bytes = 0

        mutating func add(_ other: Size) {
            // Each anchored size is itself within the budget, so these sums cannot overflow Int.
            nodes += other.nodes
            bytes += other.bytes
        }
    }

    /// Checks `text`. Syntax errors are not reported here: the scan stops and the real parser
    /// reports them with its own messages.
    /// - Throws: `.malformed` naming the line and the limit that was passed.
    static func check(_ text: String) throws(MeshModelError) {
        var utf8 = Array(text.utf8)
        var failure: MeshModelError?
        utf8.withUnsafeMutableBufferPointer { buffer in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { return }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            failure = scan(&parser)
        }
        if let failure { throw failure }
    }

    private static func scan(_ parser: inout yaml_parser_t) -> MeshModelError? {
        var anchors: [String: Size] = [:]
        // One entry per open collection: its anchor (if any) and its size so far.
        var stack: [(anchor: String?, size: Size)] = []
        var total = Size()
        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
            defer { yaml_event_delete(&event) }
            let line = Int(event.start_mark.line) + 1
            var completed: (anchor: String?, size: Size)?
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return nil
            case YAML_DOCUMENT_START_EVENT:
                // Anchors are scoped to their document.
                anchors.removeAll()
            case YAML_SCALAR_EVENT:
                let size = Size(nodes: 1, bytes: Int(event.data.scalar.length) + 1)
                completed = (string(event.data.scalar.anchor), size)
            case YAML_ALIAS_EVENT:
                // An undefined alias is Yams' error to report; count it as one node meanwhile.
                let name = string(event.data.alias.anchor) ?? ""
                completed = (nil, anchors[name] ?? Size(nodes: 1, bytes: 1))
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let anchor =
                    event.type == YAML_SEQUENCE_START_EVENT
                    ? string(event.data.sequence_start.anchor) : string(event.data.mapping_start.anchor)
                stack.append((anchor, Size(nodes: 1, bytes: 2)))
                if stack.count > maxDepth {
                    return failure("nesting deeper than \(maxDepth) levels", line: line)
                }
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                completed = stack.popLast()
            default:
                break
            }
            guard let done = completed else { continue }
            if let anchor = done.anchor { anchors[anchor] = done.size }
            if stack.isEmpty {
                total.add(done.size)
            } else {
                stack[stack.count - 1].size.add(done.size)
            }
            // The open collections' sizes plus everything finished bound the final expansion
            // from below, so the check can fire as soon as the budget is passed.
            var running = total
            for entry in stack { running.add(entry.size) }
            if running.nodes > maxNodes {
                return failure("more than \(maxNodes) values once aliases are expanded", line: line)
            }
            if running.bytes > maxBytes {
                return failure("larger than \(maxBytes) bytes once aliases are expanded", line: line)
            }
        }
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: UnsafeRawPointer(pointer).assumingMemoryBound(to: CChar.self))
    }

    private static func failure(_ message: String, line: Int) -> MeshModelError {
        MeshModelError(code: .malformed, message: "invalid YAML at line \(line): \(message)")
    }
}

import MeshModel

/// A document tree the mutators edit: like `JSONValue`, but objects keep their key order and may
/// repeat keys, and a `.raw` node is written verbatim, so a mutation can place text no JSON value
/// can hold (`153722867280912931:0`, `*alias`, `!!binary`, `1e400`, 2^64 exactly).
indirect enum FuzzNode: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case raw(String)
    case array([FuzzNode])
    case object([Member])

    struct Member: Sendable, Hashable {
        var key: String
        var value: FuzzNode
    }

    /// One step of a path: an object member (by position, since keys may repeat) or an array index.
    enum Step: Sendable, Hashable {
        case member(Int)
        case element(Int)
    }

    /// The tree of a JSON value, object keys sorted so the same value always gives the same tree.
    init(_ value: JSONValue) {
        switch value {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .number(let n): self = .number(n)
        case .string(let s): self = .string(s)
        case .array(let a): self = .array(a.map(FuzzNode.init))
        case .object(let o): self = .object(o.keys.sorted().map { Member(key: $0, value: FuzzNode(o[$0]!)) })
        }
    }

    var isContainer: Bool {
        switch self {
        case .array, .object: true
        default: false
        }
    }

    /// Every path in the tree (the root's is `[]`), depth first.
    func paths(prefix: [Step] = []) -> [[Step]] {
        var result = [prefix]
        switch self {
        case .array(let elements):
            for (i, e) in elements.enumerated() { result += e.paths(prefix: prefix + [.element(i)]) }
        case .object(let members):
            for (i, m) in members.enumerated() { result += m.value.paths(prefix: prefix + [.member(i)]) }
        default: break
        }
        return result
    }

    /// The key under which the node at `path` sits (nil for array elements and the root).
    func key(at path: [Step]) -> String? {
        guard let last = path.last, case .member(let i) = last, case .object(let members)? = self[Array(path.dropLast())] else { return nil }
        return members[i].key
    }

    /// The keys from the root to `path`, e.g. `spec.http.route.weight` (array steps left out).
    func keyPath(_ path: [Step]) -> String {
        var keys: [String] = []
        var node = self
        for step in path {
            switch (step, node) {
            case (.member(let i), .object(let members)):
                keys.append(members[i].key)
                node = members[i].value
            case (.element(let i), .array(let elements)):
                node = elements[i]
            default: return keys.joined(separator: ".")
            }
        }
        return keys.joined(separator: ".")
    }

    subscript(path: [Step]) -> FuzzNode? {
        get {
            var node = self
            for step in path {
                switch (step, node) {
                case (.member(let i), .object(let members)) where members.indices.contains(i): node = members[i].value
                case (.element(let i), .array(let elements)) where elements.indices.contains(i): node = elements[i]
                default: return nil
                }
            }
            return node
        }
        set {
            guard let newValue else { return }
            self = replacing(path[...], with: newValue)
        }
    }

    private func replacing(_ path: ArraySlice<[Step].Element>, with value: FuzzNode) -> FuzzNode {
        guard let step = path.first else { return value }
        switch (step, self) {
        case (.member(let i), .object(var members)) where members.indices.contains(i):
            members[i].value = members[i].value.replacing(path.dropFirst(), with: value)
            return .object(members)
        case (.element(let i), .array(var elements)) where elements.indices.contains(i):
            elements[i] = elements[i].replacing(path.dropFirst(), with: value)
            return .array(elements)
        default:
            return self
        }
    }

    /// Removes the node at `path` from its parent (no-op for the root).
    mutating func remove(_ path: [Step]) {
        guard let last = path.last, let parent = self[Array(path.dropLast())] else { return }
        switch (last, parent) {
        case (.member(let i), .object(var members)):
            members.remove(at: i)
            self[Array(path.dropLast())] = .object(members)
        case (.element(let i), .array(var elements)):
            elements.remove(at: i)
            self[Array(path.dropLast())] = .array(elements)
        default: break
        }
    }
}

// MARK: - Writing

extension FuzzNode {
    /// JSON text (not necessarily valid JSON once `.raw` nodes or repeated keys are in it).
    func json() -> String {
        var out = ""
        writeFlow(to: &out)
        return out
    }

    /// Block-style YAML; containers nested deeper than `flowBelowDepth` are written in flow style
    /// so deep trees do not grow quadratically with indentation.
    func yaml(flowBelowDepth: Int = 32) -> String {
        var out = ""
        writeBlock(to: &out, indent: 0, depth: 0, flowBelowDepth: flowBelowDepth)
        return out
    }

    private func writeFlow(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += Self.numberText(n)
        case .string(let s): out += Self.quoted(s)
        case .raw(let text): out += text
        case .array(let elements):
            out += "["
            for (i, e) in elements.enumerated() {
                if i > 0 { out += "," }
                e.writeFlow(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, m) in members.enumerated() {
                if i > 0 { out += "," }
                out += Self.quoted(m.key) + ":"
                m.value.writeFlow(to: &out)
            }
            out += "}"
        }
    }

    private func isEmptyContainer() -> Bool {
        switch self {
        case .array(let a): a.isEmpty
        case .object(let o): o.isEmpty
        default: false
        }
    }

    private func writeBlock(to out: inout String, indent: Int, depth: Int, flowBelowDepth: Int) {
        let pad = String(repeating: " ", count: indent)
        switch self {
        case .array(let elements) where !elements.isEmpty && depth < flowBelowDepth:
            for e in elements {
                if e.isContainer && !e.isEmptyContainer() && depth + 1 < flowBelowDepth {
                    out += pad + "-\n"
                    e.writeBlock(to: &out, indent: indent + 2, depth: depth + 1, flowBelowDepth: flowBelowDepth)
                } else {
                    out += pad + "- "
                    e.writeFlow(to: &out)
                    out += "\n"
                }
            }
        case .object(let members) where !members.isEmpty && depth < flowBelowDepth:
            for m in members {
                out += pad + Self.yamlKey(m.key) + ":"
                if m.value.isContainer && !m.value.isEmptyContainer() && depth + 1 < flowBelowDepth {
                    out += "\n"
                    m.value.writeBlock(to: &out, indent: indent + 2, depth: depth + 1, flowBelowDepth: flowBelowDepth)
                } else {
                    out += " "
                    m.value.writeFlow(to: &out)
                    out += "\n"
                }
            }
        default:
            out += pad
            writeFlow(to: &out)
            out += "\n"
        }
    }

    /// A plain key when it is safely plain, else a double-quoted one.
    private static func yamlKey(_ key: String) -> String {
        let plain =
            !key.isEmpty
            && key.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" || $0 == "." || $0 == "/"
            } && !key.hasPrefix("-")
        return plain ? key : quoted(key)
    }

    /// Integral values within ±2^63 print as integers (`4294967296`, not `4.294967296e9`).
    static func numberText(_ n: Double) -> String {
        guard n.isFinite else { return n.isNaN ? ".nan" : (n < 0 ? "-.inf" : ".inf") }
        if n.rounded(.towardZero) == n, abs(n) < 9.2e18 { return String(Int64(n)) }
        return "\(n)"
    }

    /// A JSON string literal, which is also a YAML double-quoted scalar.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _
            where scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value)
                || scalar.value == 0xFEFF || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

import Yams

extension JSONValue {
    /// This value as a YAML node: mapping keys sorted (apiVersion, kind, metadata, spec comes out
    /// in kubectl's order for free), strings quoted only where YAML would read them as another type.
    var yamlNode: Node {
        switch self {
        case .null:
            return Node("null", Tag(.null))
        case .bool(let value):
            return Node(value ? "true" : "false", Tag(.bool))
        case .integer(let value):
            return Node(String(value), Tag(.int))
        case .number(let value):
            // Swift's shortest round-trip form ("0.5", "1e+20") is valid YAML; Yams's own
            // formatter would print 0.5 as "5.0e-01".
            return Node(String(value), Tag(.float))
        case .string(let value):
            return Self.stringNode(value)
        case .array(let elements):
            return Node(elements.map(\.yamlNode), Tag(.seq))
        case .object(let members):
            let pairs = members.sorted { $0.key < $1.key }.map { (Self.stringNode($0.key), $0.value.yamlNode) }
            return Node(pairs, Tag(.map))
        }
    }

    /// A string scalar that stays a string when read back: `"42"` (a resourceVersion) or `"true"`
    /// must not turn into a number or a boolean.
    private static func stringNode(_ value: String) -> Node {
        // Yams's String representation quotes exactly when the plain form would resolve to
        // something else.
        var scalar: Node.Scalar = value.represented()
        // A literal block keeps multi-line text (a Lua filter, a PEM) readable; libyaml falls
        // back to a quoted form by itself when the text cannot be a literal block.
        if value.contains("\n") && scalar.style == .any { scalar.style = .literal }
        return .scalar(scalar)
    }

    /// This value as one YAML document.
    func yamlDocument() throws -> String {
        // Unlimited width: folding long strings is valid YAML but unreadable in a terminal.
        try Yams.serialize(node: yamlNode, width: -1, allowUnicode: true)
    }

    /// Several values as a multi-document YAML stream separated by `---`, as kubectl prints lists.
    static func yamlStream(_ values: [JSONValue]) throws -> String {
        guard !values.isEmpty else { return "" }
        return try values.map { try $0.yamlDocument() }.joined(separator: "---\n")
    }
}

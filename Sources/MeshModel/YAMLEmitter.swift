import Yams

/// Writes YAML the way meshd's tools show it (meshctl's output, the history diff): mapping
/// keys sorted — apiVersion, kind, metadata, spec comes out in kubectl's order for free —
/// strings quoted only where YAML would read them as another type, long strings never folded.
/// Shared by every JSON value type that prints as YAML, so all print alike.
public enum YAMLEmitter {
    /// A string scalar that stays a string when read back: `"42"` (a resourceVersion) or
    /// `"true"` must not turn into a number or a boolean.
    public static func string(_ value: String) -> Node {
        // Yams's String representation quotes exactly when the plain form would resolve to
        // something else.
        var scalar: Node.Scalar = value.represented()
        // A literal block keeps multi-line text (a Lua filter, a PEM) readable; libyaml falls
        // back to a quoted form by itself when the text cannot be a literal block.
        if value.contains("\n") && scalar.style == .any { scalar.style = .literal }
        return .scalar(scalar)
    }

    /// A floating-point scalar in Swift's shortest round-trip form ("0.5", "1e+20"), valid
    /// YAML; Yams's own formatter would print 0.5 as "5.0e-01".
    public static func float(_ value: Double) -> Node { Node(String(value), Tag(.float)) }

    /// A mapping with its keys sorted.
    public static func mapping(_ members: [String: Node]) -> Node {
        Node(members.sorted { $0.key < $1.key }.map { (string($0.key), $0.value) }, Tag(.map))
    }

    /// `node` as one YAML document.
    public static func document(_ node: Node) throws -> String {
        // Unlimited width: folding long strings is valid YAML but unreadable in a terminal.
        try Yams.serialize(node: node, width: -1, allowUnicode: true)
    }

    /// Several documents as a multi-document stream separated by `---`, as kubectl prints lists.
    public static func stream(_ nodes: [Node]) throws -> String {
        try nodes.map(document).joined(separator: "---\n")
    }
}

extension JSONValue {
    /// This value as a YAML node (`YAMLEmitter`'s conventions); whole numbers print as integers.
    public var yamlNode: Node {
        switch self {
        case .null: Node("null", Tag(.null))
        case .bool(let value): Node(value ? "true" : "false", Tag(.bool))
        case .number(let value):
            if let int = self.intValue { Node(String(int), Tag(.int)) } else { YAMLEmitter.float(value) }
        case .string(let value): YAMLEmitter.string(value)
        case .array(let elements): Node(elements.map(\.yamlNode), Tag(.seq))
        case .object(let members): YAMLEmitter.mapping(members.mapValues(\.yamlNode))
        }
    }

    /// This value as one YAML document.
    public func yamlDocument() throws -> String {
        try YAMLEmitter.document(yamlNode)
    }
}

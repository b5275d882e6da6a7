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
        // something else; it finds out with up to seven regular expressions, and the emitter
        // runs them again for a scalar whose tag is left implicit. Most strings (names, images,
        // label values) start with a letter, where only YAML 1.1's boolean and null words
        // resolve to another type: those skip the expressions. Either way the tag is made
        // explicit, which the emitter omits from the text as before.
        var scalar: Node.Scalar
        if startsPlainString(value) {
            scalar = Node.Scalar(value, Tags.str)
        } else {
            scalar = value.represented()
            // Plain style means the resolver said string, with the tag left implicit.
            if scalar.style == .any { scalar = Node.Scalar(value, Tags.str) }
        }
        // A literal block keeps multi-line text (a Lua filter, a PEM) readable; libyaml falls
        // back to a quoted form by itself when the text cannot be a literal block.
        if value.utf8.contains(0x0A) && scalar.style == .any { scalar.style = .literal }
        return .scalar(scalar)
    }

    /// YAML 1.1's words that read as booleans or null (Yams's resolver rules): the only plain
    /// scalars starting with a letter that are not strings.
    static let nonStringWords: Set<String> = [
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL",
    ]

    /// Whether `value`, written plain, reads back as a string by Yams's default resolver
    /// without asking it: it starts with an ASCII letter, `/` or `_` (a name, a path) and is
    /// not one of `nonStringWords`. (Numbers, timestamps, `.inf`, `~`, `<<`, `=` and the empty
    /// string all start otherwise; neither `/` nor `_` is a YAML indicator.)
    static func startsPlainString(_ value: String) -> Bool {
        guard let first = value.utf8.first else { return false }
        guard (0x41...0x5A).contains(first) || (0x61...0x7A).contains(first) || first == UInt8(ascii: "/") || first == UInt8(ascii: "_")
        else { return false }
        return !nonStringWords.contains(value)
    }

    /// One `Tag` of each kind, shared: creating a Tag builds Yams's default constructor's
    /// tables anew each time, which was a tenth of printing a large manifest. Safe to share
    /// across threads: Yams changes a Tag only while its name is implicit, non-specific or
    /// `=` (resolving, merging keys), which none of these ever is.
    enum Tags {
        nonisolated(unsafe) static let str = Tag(.str)
        nonisolated(unsafe) static let float = Tag(.float)
        nonisolated(unsafe) static let int = Tag(.int)
        nonisolated(unsafe) static let bool = Tag(.bool)
        nonisolated(unsafe) static let null = Tag(.null)
        nonisolated(unsafe) static let seq = Tag(.seq)
        nonisolated(unsafe) static let map = Tag(.map)
    }

    /// A floating-point scalar in Swift's shortest round-trip form ("0.5", "1e+20"), valid
    /// YAML; Yams's own formatter would print 0.5 as "5.0e-01".
    public static func float(_ value: Double) -> Node { Node(String(value), Tags.float) }

    /// A mapping with its keys sorted.
    public static func mapping(_ members: [String: Node]) -> Node {
        Node(members.sorted { $0.key < $1.key }.map { (string($0.key), $0.value) }, Tags.map)
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
        case .null: Node("null", YAMLEmitter.Tags.null)
        case .bool(let value): Node(value ? "true" : "false", YAMLEmitter.Tags.bool)
        case .number(let value):
            if let int = self.intValue { Node(String(int), YAMLEmitter.Tags.int) } else { YAMLEmitter.float(value) }
        case .string(let value): YAMLEmitter.string(value)
        case .array(let elements): Node(elements.map(\.yamlNode), YAMLEmitter.Tags.seq)
        case .object(let members): YAMLEmitter.mapping(members.mapValues(\.yamlNode))
        }
    }

    /// This value as one YAML document.
    public func yamlDocument() throws -> String {
        try YAMLEmitter.document(yamlNode)
    }
}

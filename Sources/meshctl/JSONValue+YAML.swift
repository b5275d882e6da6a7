import Yams

import enum MeshModel.YAMLEmitter

/// meshctl prints its own JSON values with meshd's YAML conventions (`YAMLEmitter`, shared
/// with the server's history diff), so `meshctl get -o yaml` and `meshctl diff` read alike.
extension JSONValue {
    /// This value as a YAML node: integers stay integers, `YAMLEmitter` does the rest.
    var yamlNode: Node {
        switch self {
        case .null: Node("null", Tag(.null))
        case .bool(let value): Node(value ? "true" : "false", Tag(.bool))
        case .integer(let value): Node(String(value), Tag(.int))
        case .number(let value): YAMLEmitter.float(value)
        case .string(let value): YAMLEmitter.string(value)
        case .array(let elements): Node(elements.map(\.yamlNode), Tag(.seq))
        case .object(let members): YAMLEmitter.mapping(members.mapValues(\.yamlNode))
        }
    }

    /// This value as one YAML document.
    func yamlDocument() throws -> String {
        try YAMLEmitter.document(yamlNode)
    }

    /// Several values as a multi-document YAML stream separated by `---`, as kubectl prints lists.
    static func yamlStream(_ values: [JSONValue]) throws -> String {
        guard !values.isEmpty else { return "" }
        return try YAMLEmitter.stream(values.map(\.yamlNode))
    }
}

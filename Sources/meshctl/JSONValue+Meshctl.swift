import Foundation
import MeshModel

/// meshctl reads and prints the admin API's JSON as MeshModel's `JSONValue`, meshd's one JSON
/// value: the admin API's JSON is the contract, and printing it whole (fields this build does not
/// know included) needs no schema. Numbers are Doubles; a whole number within ±2^53 prints as
/// an integer (`replicas: 3`, never `3.0`), in JSON, YAML and tables alike.
extension JSONValue {
    /// A scalar as a table cell: strings bare, numbers and booleans as written; nil otherwise.
    var displayText: String? {
        switch self {
        case .string(let value): value
        case .number(let value): intValue.map(String.init) ?? String(value)
        case .bool(let value): String(value)
        case .null, .array, .object: nil
        }
    }

    /// Parses a JSON document; the error names what was being read so the message is actionable.
    static func parse(_ data: Data, what: String) throws -> JSONValue {
        do {
            return try parse(json: String(decoding: data, as: UTF8.self))
        } catch {
            throw MeshctlError(.badResponse, "cannot parse \(what) as JSON", cause: error)
        }
    }

    /// Pretty-printed JSON with sorted keys, so output is stable across runs and diffable.
    func prettyJSON() -> String {
        canonicalJSON(indent: 2)
    }

    /// Several values as a multi-document YAML stream separated by `---`, as kubectl prints lists.
    static func yamlStream(_ values: [JSONValue]) throws -> String {
        guard !values.isEmpty else { return "" }
        return try YAMLEmitter.stream(values.map(\.yamlNode))
    }
}

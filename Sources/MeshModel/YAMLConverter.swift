import Yams

/// Turns a YAML stream into JSON values, one per non-empty document.
///
/// Scalars are typed by Yams' default (YAML 1.1) resolver, as Kubernetes' YAML reader does:
/// unquoted `9080` is a number and `true` a boolean, while `v1`, `"1.0"` and timestamps stay
/// strings. Aliases are expanded and `<<` merge keys applied, so what follows sees plain JSON.
/// `YAMLExpansionBudget` measures the expansion first, so nothing past its budget is expanded.
struct YAMLConverter {
    /// A second guard behind `YAMLExpansionBudget`: conversion stops past this many values.
    static let maxValues = YAMLExpansionBudget.maxNodes
    /// Deeper nesting is refused so conversion cannot exhaust the stack.
    static let maxDepth = YAMLExpansionBudget.maxDepth

    private var values = 0

    /// Converts every document in `text`; empty documents (nothing, comments, or `null`) are skipped.
    /// - Throws: `.malformed`, with line and column, for YAML syntax errors and duplicate keys.
    static func documents(in text: String) throws(MeshModelError) -> [JSONValue] {
        try YAMLExpansionBudget.check(text)
        var converter = YAMLConverter()
        var documents: [JSONValue] = []
        do {
            let parser = try Parser(yaml: text)
            while let node = try parser.nextRoot() {
                let value = try converter.convert(node, depth: 0)
                if value != .null { documents.append(value) }
            }
        } catch let error as MeshModelError {
            throw error
        } catch let error as YamlError {
            throw MeshModelError(code: .malformed, message: describe(error))
        } catch {
            throw MeshModelError(code: .malformed, message: "invalid YAML: \(error)")
        }
        return documents
    }

    private mutating func convert(_ node: Node, depth: Int) throws(MeshModelError) -> JSONValue {
        values += 1
        guard values <= Self.maxValues else {
            throw Self.failure("more than \(Self.maxValues) values (alias expansion?)", at: node.mark)
        }
        guard depth <= Self.maxDepth else { throw Self.failure("nesting deeper than \(Self.maxDepth) levels", at: node.mark) }
        switch node {
        case .scalar(let scalar):
            return Self.convert(scalar, tag: Tag.Name(rawValue: node.tag.rawValue))
        case .sequence(let sequence):
            var elements: [JSONValue] = []
            elements.reserveCapacity(sequence.count)
            for element in sequence {
                elements.append(try convert(element, depth: depth + 1))
            }
            return .array(elements)
        case .mapping(let mapping):
            return .object(try convert(mapping, depth: depth))
        case .alias:
            // Yams' composer resolves aliases to their nodes; this case is not produced by parsing.
            throw Self.failure("unresolved alias", at: node.mark)
        }
    }

    private mutating func convert(_ mapping: Node.Mapping, depth: Int) throws(MeshModelError) -> [String: JSONValue] {
        var members: [String: JSONValue] = [:]
        var merged: [[String: JSONValue]] = []
        for (keyNode, valueNode) in mapping {
            if keyNode.tag.rawValue == Tag.Name.merge.rawValue {
                // `<<: *base` or `<<: [*a, *b]`: explicit keys win, then earlier merges over later.
                let value = try convert(valueNode, depth: depth + 1)
                let sources = value.arrayValue ?? [value]
                for source in sources {
                    guard let object = source.objectValue else {
                        throw Self.failure("a merge key (<<) needs a mapping or a list of mappings", at: valueNode.mark)
                    }
                    merged.append(object)
                }
                continue
            }
            guard case .scalar(let keyScalar) = keyNode else {
                throw Self.failure("mapping keys must be scalars", at: keyNode.mark)
            }
            // Non-string scalar keys (`80: x`) become their text, as Kubernetes' YAML reader does.
            members[keyScalar.string] = try convert(valueNode, depth: depth + 1)
        }
        for object in merged {
            members.merge(object) { explicitOrEarlier, _ in explicitOrEarlier }
        }
        return members
    }

    private static func convert(_ scalar: Node.Scalar, tag: Tag.Name) -> JSONValue {
        switch tag {
        case .null:
            return .null
        case .bool:
            return Node.scalar(scalar).bool.map(JSONValue.bool) ?? .string(scalar.string)
        case .int:
            // Not Yams' `Int` constructor: it traps on base-60 overflow. Beyond Int64 the value
            // keeps its magnitude as a Double, for typed validation to refuse as out of range.
            return YAMLInteger.value(of: scalar.string).map(JSONValue.number) ?? .string(scalar.string)
        case .float:
            // JSON has no NaN or infinity; `.inf`/`.nan` stay text so the value survives.
            if let double = Node.scalar(scalar).float, double.isFinite { return .number(double) }
            return .string(scalar.string)
        default:
            // Strings, timestamps and custom tags keep their text.
            return .string(scalar.string)
        }
    }

    private static func failure(_ message: String, at mark: Mark?) -> MeshModelError {
        let place = mark.map { " at line \($0.line), column \($0.column)" } ?? ""
        return MeshModelError(code: .malformed, message: "invalid YAML\(place): \(message)")
    }

    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let detail = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            return "invalid YAML at line \(mark.line), column \(mark.column): \(problem)\(detail)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
            return "invalid YAML at line \(context.mark.line), column \(context.mark.column): duplicate key \(keys)"
        case .reader(let problem, _, _, _):
            return "invalid YAML: \(problem)"
        default:
            return "invalid YAML: \(error)"
        }
    }
}

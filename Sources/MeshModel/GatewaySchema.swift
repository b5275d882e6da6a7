/// One node of a Gateway API CRD's structural schema (`openAPIV3Schema`), as
/// `scripts/generate-gateway-schema.py` reads it from the pinned release.
public struct GatewaySchemaNode: Sendable {
    /// The OpenAPI type.
    public enum ValueType: String, Sendable { case object, array, string, integer, boolean }
    /// `x-kubernetes-list-type`.
    public enum ListType: String, Sendable { case atomic, set, map }

    var type: ValueType
    var properties: [String: Int] = [:]
    var items: Int?
    var values: Int?
    var required: [String] = []
    var enumValues: [String] = []
    var pattern: String?
    var minLength: Int?
    var maxLength: Int?
    var minItems: Int?
    var maxItems: Int?
    var minimum: Int?
    var maximum: Int?
    var isInt32 = false
    var listType: ListType?
    var listMapKeys: [String] = []
    var defaultValue: JSONValue?
}

/// The Gateway API's own validation for the kinds meshd serves from it: the CRDs' structural
/// schema (types, enums, patterns, lengths, bounds, required members, list uniqueness, unknown
/// fields), its defaults, and the CRDs' CEL rules (`GatewayRules`), with the API server's
/// messages at meshd's field paths. What a Kubernetes API server would refuse, meshd refuses.
public enum GatewaySchema {
    static let nodes = generatedNodes()

    /// Checks `spec` of a `kind` resource (`HTTPRoute`, `GRPCRoute`, `ReferenceGrant`) and
    /// returns it with the schema's defaults applied, as an API server stores it.
    /// - Throws: `MeshModelError` (`.invalid`) for the first problem, at its path.
    public static func check(kind: String, spec: JSONValue, resource: String) throws(MeshModelError) -> JSONValue {
        guard let root = roots[kind] else { return spec }
        var walker = Walker(resource: resource)
        let defaulted = walker.walk(spec, node: root, path: "spec")
        if let problem = walker.problem { throw problem }
        try GatewayRules.check(kind: kind, spec: defaulted, resource: resource)
        return defaulted
    }

    /// Walks a value against a node, applying defaults and remembering the first problem.
    struct Walker {
        let resource: String
        var problem: MeshModelError?

        init(resource: String) { self.resource = resource }

        mutating func fail(_ path: String, _ message: String) {
            if problem == nil { problem = MeshModelError(code: .invalid, resource: resource, field: path, message: message) }
        }

        mutating func walk(_ value: JSONValue, node index: Int, path: String) -> JSONValue {
            guard problem == nil else { return value }
            let node = GatewaySchema.nodes[index]
            switch (node.type, value) {
            case (.object, .object(var members)):
                for key in members.keys.sorted() where node.properties[key] == nil && node.values == nil {
                    fail("\(path).\(key)", "unknown field \"\(key)\"")
                    return value
                }
                for (key, child) in node.properties.sorted(by: { $0.key < $1.key }) {
                    if members[key] == nil || members[key] == .null, let fallback = GatewaySchema.nodes[child].defaultValue {
                        members[key] = fallback
                    }
                }
                for key in node.required where members[key] == nil {
                    fail("\(path).\(key)", "Required value")
                    return value
                }
                for key in members.keys.sorted() {
                    guard let member = members[key], let child = node.properties[key] ?? node.values else { continue }
                    members[key] = walk(member, node: child, path: "\(path).\(key)")
                }
                return .object(members)
            case (.array, .array(var elements)):
                if let max = node.maxItems, elements.count > max {
                    fail(path, "Too many: \(elements.count): must have at most \(max) items")
                }
                if let min = node.minItems, elements.count < min {
                    fail(path, "Invalid value: \(elements.count): must have at least \(min) items")
                }
                guard let items = node.items else { return value }
                for offset in elements.indices {
                    elements[offset] = walk(elements[offset], node: items, path: "\(path)[\(offset)]")
                }
                checkUnique(elements, node: node, path: path)
                return .array(elements)
            case (.string, .string(let text)):
                checkString(text, node: node, path: path)
                return value
            case (.integer, .number(let number)):
                checkInteger(number, node: node, path: path)
                return value
            case (.boolean, .bool):
                return value
            default:
                fail(path, "Invalid value: must be of type \(node.type.rawValue)")
                return value
            }
        }

        private mutating func checkString(_ text: String, node: GatewaySchemaNode, path: String) {
            if !node.enumValues.isEmpty, !node.enumValues.contains(text) {
                let supported = node.enumValues.map { "\"\($0)\"" }.joined(separator: ", ")
                fail(path, "Unsupported value: \"\(text)\": supported values: \(supported)")
            }
            if let max = node.maxLength, text.count > max {
                fail(path, "Too long: may not be more than \(max) bytes")
            }
            if let min = node.minLength, text.count < min {
                fail(path, "Invalid value: \"\(text)\": should be at least \(min) chars long")
            }
            // OpenAPI patterns match anywhere unless anchored; RE2 is what the API server's Go
            // regexp amounts to, and what proxies compile.
            if let pattern = node.pattern, RegexSyntax.fullMatch("(?s).*(?:\(pattern)).*", text) != true {
                fail(path, "Invalid value: \"\(text)\": should match '\(pattern)'")
            }
        }

        private mutating func checkInteger(_ number: Double, node: GatewaySchemaNode, path: String) {
            guard number.rounded(.towardZero) == number, abs(number) < 9.0e15 else {
                fail(path, "Invalid value: must be of type integer")
                return
            }
            // Enums of integers (a redirect's statusCode) are generated as their decimal text.
            if !node.enumValues.isEmpty, !node.enumValues.contains(String(Int64(number))) {
                fail(path, "Unsupported value: \(Int64(number)): supported values: \(node.enumValues.joined(separator: ", "))")
            }
            if node.isInt32, number < Double(Int32.min) || number > Double(Int32.max) {
                fail(path, "Invalid value: \(number): must fit in a 32-bit integer")
            }
            if let min = node.minimum, number < Double(min) {
                fail(path, "Invalid value: \(Int(number)): should be greater than or equal to \(min)")
            }
            if let max = node.maximum, number > Double(max) {
                fail(path, "Invalid value: \(Int(number)): should be less than or equal to \(max)")
            }
        }

        /// `x-kubernetes-list-type` `set` (no two equal items) and `map` (no two items with the
        /// same values of the map keys).
        private mutating func checkUnique(_ elements: [JSONValue], node: GatewaySchemaNode, path: String) {
            guard let type = node.listType, type != .atomic else { return }
            var seen: Set<JSONValue> = []
            for (offset, element) in elements.enumerated() {
                let identity: JSONValue
                if type == .map {
                    var keys: [String: JSONValue] = [:]
                    for key in node.listMapKeys { keys[key] = element[key] ?? .null }
                    identity = .object(keys)
                } else {
                    identity = element
                }
                if !seen.insert(identity).inserted {
                    fail("\(path)[\(offset)]", "Duplicate value: \(identity.canonicalJSON())")
                    return
                }
            }
        }
    }
}

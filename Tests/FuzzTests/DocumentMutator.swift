/// One fuzz input: the request body, as `meshctl apply` or the admin API would receive it.
struct FuzzCase: Sendable {
    var text: String
    /// How it was made, for the summary and for a corpus file name.
    var note: String
}

/// A named way of turning valid documents into hostile ones. `make` draws only from the
/// generator it is given, so (seed, mutator, case index) reproduces a case exactly.
struct DocumentMutator: Sendable {
    var name: String
    var make: @Sendable (inout SeededGenerator) -> FuzzCase

    /// Every mutator, in the order the suite runs them.
    static let all: [DocumentMutator] = [
        numberBoundaries, numericFields, durations, regexes, strings, types, weights, deepNesting,
        yamlAliases, yamlScalars, textBytes, randomBytes, documents,
    ]

    // MARK: - Rendering

    /// Writes `tree` as block YAML, JSON, or flow YAML (JSON text that JSON parsing refuses,
    /// so the YAML path reads it), sometimes next to an untouched valid seed.
    static func render(_ tree: FuzzNode, _ rng: inout SeededGenerator, allowJSON: Bool = true) -> (String, String) {
        var (text, format): (String, String)
        switch rng.int(0...9) {
        case 0...4: (text, format) = (tree.yaml(), "yaml")
        case 5...7 where allowJSON: (text, format) = (tree.json(), "json")
        case 8: (text, format) = ("--- " + tree.json() + "\n", "yaml-flow")
        default: (text, format) = (tree.yaml(), "yaml")
        }
        if format != "json", rng.chance(0.15) {
            text = FuzzSeeds.texts[rng.int(0...FuzzSeeds.texts.count - 1)] + "\n---\n" + text
            format += "+seed"
        }
        return (text, format)
    }

    static func seedTree(_ rng: inout SeededGenerator, kind: String? = nil) -> FuzzNode {
        let candidates = FuzzSeeds.trees.filter { kind == nil || $0.keyPathValue("kind") == kind }
        return rng.pick(candidates)
    }

    static func leafPaths(_ tree: FuzzNode) -> [[FuzzNode.Step]] {
        tree.paths().filter { !(tree[$0]?.isContainer ?? true) }
    }

    // MARK: - Mutators on the tree

    static let numberBoundaries = DocumentMutator(name: "number-boundaries") { rng in
        var tree = seedTree(&rng)
        let leaves = leafPaths(tree)
        var edits: [String] = []
        for _ in 0..<rng.int(1...3) {
            let path = rng.pick(leaves)
            let value = rng.pick(FuzzValues.boundaryNumbers)
            tree[path] = .raw(value)
            edits.append("\(tree.keyPath(path))=\(value)")
        }
        let (text, format) = render(tree, &rng)
        return FuzzCase(text: text, note: "\(format) \(edits.joined(separator: " "))")
    }

    /// Numbers where meshd reads numbers: weights, ports, target ports, attempts, endpoint ports.
    static let numericFields = DocumentMutator(name: "numeric-fields") { rng in
        var tree = seedTree(&rng)
        let numeric = tree.paths().filter { path in
            let key = tree.key(at: path) ?? ""
            let parentKey = tree.key(at: Array(path.dropLast())) ?? ""
            return ["weight", "number", "targetPort", "attempts", "port"].contains(key) && !(tree[path]?.isContainer ?? true)
                || (parentKey == "ports" && !(tree[path]?.isContainer ?? true))
        }
        guard !numeric.isEmpty else { return numberBoundaries.make(&rng) }
        var edits: [String] = []
        for _ in 0..<rng.int(1...2) {
            let path = rng.pick(numeric)
            let value = rng.pick(FuzzValues.boundaryNumbers)
            tree[path] = .raw(value)
            edits.append("\(tree.keyPath(path))=\(value)")
        }
        let (text, format) = render(tree, &rng)
        return FuzzCase(text: text, note: "\(format) \(edits.joined(separator: " "))")
    }

    static let durations = DocumentMutator(name: "durations") { rng in
        var tree = seedTree(&rng, kind: "VirtualService")
        let targets = tree.paths().filter { ["timeout", "perTryTimeout"].contains(tree.key(at: $0) ?? "") }
        let value = rng.pick(FuzzValues.durations)
        let path = rng.pick(targets)
        tree[path] = rng.chance(0.9) ? .string(value) : .raw(value.isEmpty ? "''" : value)
        let (text, format) = render(tree, &rng)
        return FuzzCase(text: text, note: "\(format) \(tree.keyPath(path))=\(value.prefix(60))")
    }

    static let regexes = DocumentMutator(name: "regexes") { rng in
        var tree = seedTree(&rng, kind: "VirtualService")
        // Every StringMatch: a uri, or a header's matcher.
        let targets = tree.paths().filter { path in
            tree.key(at: path) == "uri" || tree.key(at: Array(path.dropLast())) == "headers"
        }
        let pattern = rng.pick(FuzzValues.regexes)
        let path = rng.pick(targets)
        let matcher: FuzzNode =
            rng.chance(0.9)
            ? .object([.init(key: "regex", value: .string(pattern))])
            : .object([.init(key: "regex", value: .string(pattern)), .init(key: rng.pick(["exact", "prefix", "regex"]), value: .string("x"))])
        tree[path] = matcher
        let (text, format) = render(tree, &rng)
        return FuzzCase(text: text, note: "\(format) \(tree.keyPath(path)) regex=\(pattern.prefix(40).debugDescription)")
    }

    static let strings = DocumentMutator(name: "strings") { rng in
        var tree = seedTree(&rng)
        let targets = tree.paths().filter { if case .string? = tree[$0] { true } else { false } }
        var edits: [String] = []
        for _ in 0..<rng.int(1...2) {
            let path = rng.pick(targets)
            let value = rng.chance(0.75) ? rng.pick(FuzzValues.strings) : FuzzValues.randomString(&rng)
            tree[path] = .string(value)
            edits.append("\(tree.keyPath(path))=\(value.prefix(30).debugDescription)\(value.count > 30 ? "…(\(value.count))" : "")")
        }
        let (text, format) = render(tree, &rng)
        return FuzzCase(text: text, note: "\(format) \(edits.joined(separator: " "))")
    }

    /// Wrong types, removed and unknown fields, repeated keys, subtrees moved between kinds.
    static let types = DocumentMutator(name: "types") { rng in
        var tree = seedTree(&rng)
        var edits: [String] = []
        for _ in 0..<rng.int(1...3) {
            let paths = tree.paths()
            let path = rng.pick(paths)
            switch rng.int(0...6) {
            case 0:
                let replacement: FuzzNode = rng.pick([
                    .null, .bool(true), .number(0), .string(""), .array([]), .object([]), .array([.array([])]),
                    .object([.init(key: "a", value: .object([]))]), .array([.null]), .string("x"),
                ])
                tree[path] = replacement
                edits.append("retype \(tree.keyPath(path))")
            case 1:
                edits.append("remove \(tree.keyPath(path))")
                tree.remove(path)
            case 2:
                guard case .object(var members)? = tree[path] else { continue }
                let key = rng.chance(0.6) ? rng.pick(FuzzValues.fieldNames) : FuzzValues.randomString(&rng, maxLength: 12)
                let donor = rng.pick(FuzzSeeds.trees)
                let value = donor[rng.pick(donor.paths())] ?? .null
                members.insert(.init(key: key, value: value), at: rng.int(0...members.count))
                tree[path] = .object(members)
                edits.append("add \(tree.keyPath(path)).\(key.debugDescription)")
            case 3:
                guard case .object(var members)? = tree[path], let member = members.first else { continue }
                members.append(.init(key: member.key, value: .string("again")))
                tree[path] = .object(members)
                edits.append("duplicate key \(member.key)")
            case 4:
                guard case .array(var elements)? = tree[path], let element = elements.first else { continue }
                elements.append(contentsOf: Array(repeating: element, count: rng.pick([1, 2, 100])))
                tree[path] = .array(elements)
                edits.append("repeat element of \(tree.keyPath(path))")
            case 5:
                let donor = rng.pick(FuzzSeeds.trees)
                let donorPath = rng.pick(donor.paths())
                tree[path] = donor[donorPath]
                edits.append("graft \(donor.keyPath(donorPath)) at \(tree.keyPath(path))")
            default:
                let kind = rng.pick(["VirtualService", "DestinationRule", "ServiceEntry", "WorkloadEntry", "Gateway", "List", "", "virtualservice"])
                let version = rng.pick(["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v2", "v1", ""])
                if let i = tree.objectIndex("kind") { tree[[.member(i)]] = .string(kind) }
                if rng.chance(0.3), let i = tree.objectIndex("apiVersion") { tree[[.member(i)]] = .string(version) }
                edits.append("kind=\(kind)")
            }
        }
        let (text, format) = render(tree, &rng)
        return FuzzCase(text: text, note: "\(format) \(edits.joined(separator: "; "))")
    }
}

extension FuzzNode {
    /// The index of a top-level object member.
    func objectIndex(_ key: String) -> Int? {
        guard case .object(let members) = self else { return nil }
        return members.firstIndex { $0.key == key }
    }

    /// A top-level string member's value.
    func keyPathValue(_ key: String) -> String? {
        guard let i = objectIndex(key), case .string(let s)? = self[[.member(i)]] else { return nil }
        return s
    }
}

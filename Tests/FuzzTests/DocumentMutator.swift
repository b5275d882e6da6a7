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
        let matcher: FuzzNode = rng.chance(0.9)
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

    // MARK: - Mutators that build text

    /// Weights whose sums cross UInt32: routes (one cluster twice, or several clusters) and
    /// endpoints of one locality (WorkloadEntries and inline ServiceEntry endpoints).
    static let weights = DocumentMutator(name: "weights") { rng in
        var documents: [String] = []
        var notes: [String] = []
        if rng.chance(0.6) {
            let count = rng.int(1...4)
            var routes: [String] = []
            for _ in 0..<count {
                let subset = rng.pick(["v1", "v2", "v1", ""])
                let weight = rng.pick(FuzzValues.weights)
                let host = rng.pick(["reviews", "reviews", "reviews.default.svc.cluster.local", "ratings"])
                routes.append("    - destination: {host: \(host)\(subset.isEmpty ? "" : ", subset: \(subset)")}\n      weight: \(weight)")
                notes.append("\(host)/\(subset)=\(weight)")
            }
            documents.append("""
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: weights}
                spec:
                  hosts: [reviews]
                  http:
                  - route:
                \(routes.joined(separator: "\n"))
                """)
        }
        if rng.chance(0.5) {
            let locality = rng.pick(["us-east/zone-a", "", "us-east/zone-b"])
            for i in 0..<rng.int(1...4) {
                let weight = rng.pick(FuzzValues.weights)
                let version = rng.pick(["v1", "v2"])
                documents.append("""
                    apiVersion: networking.istio.io/v1
                    kind: WorkloadEntry
                    metadata: {name: heavy-\(i)}
                    spec: {address: 127.0.0.\(10 + i), ports: {grpc: 9090}, labels: {app: reviews, version: \(version)}, locality: "\(locality)", weight: \(weight)}
                    """)
                notes.append("we\(i)@\(locality)=\(weight)")
            }
        }
        if rng.chance(0.3) || documents.isEmpty {
            let endpoints = (0..<rng.int(1...3)).map { i in
                let weight = rng.pick(FuzzValues.weights)
                notes.append("se-ep\(i)=\(weight)")
                return "  - {address: 10.0.0.\(i + 1), weight: \(weight), locality: \(rng.pick(["a/b", "a/b", "c"]))}"
            }
            documents.append("""
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: heavy}
                spec:
                  hosts: [heavy.default.svc.cluster.local]
                  ports: [{number: 80, name: http, protocol: HTTP}]
                  resolution: STATIC
                  endpoints:
                \(endpoints.joined(separator: "\n"))
                """)
        }
        return FuzzCase(text: documents.joined(separator: "\n---\n"), note: notes.joined(separator: " "))
    }

    /// Nesting around the converters' limits (256 YAML, 512 JSON) and far beyond them.
    static let deepNesting = DocumentMutator(name: "deep-nesting") { rng in
        let depth = rng.pick([2, 10, 100, 250, 255, 256, 257, 300, 511, 512, 513, 600, 1_000, 5_000, 20_000, 100_000])
        let shape = rng.int(0...3)
        let nested: String
        switch shape {
        case 0: nested = String(repeating: "[", count: depth) + "1" + String(repeating: "]", count: depth)
        case 1: nested = String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth)
        case 2: nested = String(repeating: "[{\"a\":", count: depth / 2) + "1" + String(repeating: "}]", count: depth / 2)
        default: nested = String(repeating: "[", count: depth) + String(repeating: "]", count: max(0, depth - 1))  // unbalanced
        }
        var tree = seedTree(&rng)
        let path = rng.pick(tree.paths().filter { !$0.isEmpty })
        tree[path] = .raw(nested)
        let json = rng.chance(0.5)
        let body = rng.chance(0.15) ? nested : (json ? tree.json() : tree.yaml())
        return FuzzCase(text: body, note: "depth \(depth) shape \(shape) \(json ? "json" : "yaml") at \(tree.keyPath(path))")
    }

    /// Anchors, aliases and merge keys: harmless reuse, undefined and self-referencing aliases,
    /// aliases as keys, and billion-laughs expansion at growing sizes.
    static let yamlAliases = DocumentMutator(name: "yaml-aliases") { rng in
        let header = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: aliases}\n"
        switch rng.int(0...5) {
        case 0, 1:
            let levels = rng.int(1...9), fanOut = rng.int(2...10)
            var lines = ["x0: &a0 [\"lol\", \"lol\"]"]
            for level in 1...levels {
                lines.append("x\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: fanOut).joined(separator: ", ") + "]")
            }
            let place = rng.int(0...2)
            let spec = switch place {
            case 0: "spec: {host: reviews, trafficPolicy: {bomb: *a\(levels)}}"
            case 1: "spec: {host: reviews, subsets: [{name: v1, labels: *a\(levels)}]}"
            default: "spec: {host: reviews}\nstatus: *a\(levels)"
            }
            return FuzzCase(text: header + lines.joined(separator: "\n") + "\n" + spec,
                            note: "billion laughs \(fanOut)^\(levels) at \(place)")
        case 2:
            let levels = rng.int(1...7), fanOut = rng.int(2...6)
            var lines = ["x0: &a0 {k: v}"]
            for level in 1...levels {
                lines.append("x\(level): &a\(level) {" + (0..<fanOut).map { "k\($0): *a\(level - 1)" }.joined(separator: ", ") + "}")
            }
            return FuzzCase(text: header + lines.joined(separator: "\n") + "\nspec:\n  host: reviews\n  trafficPolicy:\n    ? *a\(levels)\n    : x",
                            note: "alias as mapping key \(fanOut)^\(levels)")
        case 3:
            let levels = rng.int(1...8)
            var lines = ["base0: &m0 {host: reviews}"]
            for level in 1...levels {
                lines.append("base\(level): &m\(level) {<<: [*m\(level - 1), *m\(level - 1)], k\(level): \(level)}")
            }
            return FuzzCase(text: header + lines.joined(separator: "\n") + "\nspec:\n  <<: *m\(levels)",
                            note: "merge keys \(levels) levels")
        case 4:
            let text = rng.pick([
                header + "spec: *nope",
                header + "spec: &s {host: reviews, subsets: [*s]}",
                header + "spec: {host: &h reviews, subsets: [{name: v1, labels: {version: *h}}]}",
                header + "spec:\n  <<: [1, 2]\n  host: reviews",
                header + "spec:\n  <<: *undefined\n  host: reviews",
                header + "a: &a {host: reviews}\na: &a {host: ratings}\nspec: *a",
                header + "spec: &a\n  host: reviews\n  trafficPolicy: *a",
                "&doc\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: x}\nspec: {host: reviews}\n---\n*doc",
                header + "spec: {host: reviews, subsets: [&s {name: v1}, *s]}",
            ])
            return FuzzCase(text: text, note: "alias edge case")
        default:
            // Reuse that is legitimate: the same subset labels and hosts through anchors.
            let text = """
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: anchored}
                spec:
                  hosts: [&h reviews]
                  http:
                  - route:
                    - &d {destination: {host: *h, subset: v1}, weight: 10}
                    - {<<: *d, weight: \(rng.pick(FuzzValues.weights))}
                """
            return FuzzCase(text: text, note: "anchored destinations (merge onto a duplicate cluster)")
        }
    }

    /// YAML 1.1 scalars (base-60 integers, tags, booleans, special floats) in place of any scalar.
    static let yamlScalars = DocumentMutator(name: "yaml-scalars") { rng in
        var tree = seedTree(&rng)
        let leaves = leafPaths(tree)
        var edits: [String] = []
        for _ in 0..<rng.int(1...2) {
            let path = rng.pick(leaves)
            let value = rng.pick(FuzzValues.yamlScalars)
            tree[path] = .raw(value)
            edits.append("\(tree.keyPath(path))=\(value)")
        }
        return FuzzCase(text: tree.yaml(flowBelowDepth: rng.pick([1, 2, 32])), note: edits.joined(separator: " "))
    }

    /// Byte-level damage to a valid body: flipped bits, invalid UTF-8, cut and repeated spans, tabs.
    static let textBytes = DocumentMutator(name: "text-bytes") { rng in
        let tree = seedTree(&rng)
        var bytes = Array((rng.chance(0.6) ? tree.yaml() : tree.json()).utf8)
        var edits: [String] = []
        for _ in 0..<rng.int(1...6) {
            guard !bytes.isEmpty else { break }
            let at = rng.int(0...bytes.count - 1)
            switch rng.int(0...7) {
            case 0: bytes[at] ^= UInt8(1) << UInt8(rng.int(0...7)); edits.append("flip@\(at)")
            case 1: bytes[at] = UInt8(rng.int(0...255)); edits.append("set@\(at)")
            case 2:
                let invalid = rng.pick([[0xC0, 0x80], [0xFF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x00], [0xEF, 0xBB, 0xBF]] as [[UInt8]])
                bytes.insert(contentsOf: invalid, at: at); edits.append("utf8@\(at)")
            case 3:
                let end = min(bytes.count, at + rng.int(1...40)); bytes.removeSubrange(at..<end); edits.append("cut@\(at)")
            case 4:
                let end = min(bytes.count, at + rng.int(1...40)); bytes.insert(contentsOf: bytes[at..<end], at: at); edits.append("repeat@\(at)")
            case 5: bytes = Array(bytes[0..<at]); edits.append("truncate@\(at)")
            case 6:
                let token = rng.pick([":", "-", "&", "*", "!", "|", ">", "%", "@", "`", "{", "[", "\t", "\"", "'", "#", "? ", "---", "\n  "])
                bytes.insert(contentsOf: Array(token.utf8), at: at); edits.append("insert\(token.debugDescription)@\(at)")
            default:
                bytes = bytes.map { $0 == 0x20 && rng.chance(0.1) ? 0x09 : $0 }; edits.append("tabs")
            }
        }
        return FuzzCase(text: String(decoding: bytes, as: UTF8.self), note: edits.joined(separator: " "))
    }

    /// Bodies with no structure at all: random bytes, or a soup of YAML and JSON tokens.
    static let randomBytes = DocumentMutator(name: "random-bytes") { rng in
        if rng.chance(0.5) {
            let bytes = (0..<rng.int(0...1_024)).map { _ in UInt8(rng.int(0...255)) }
            return FuzzCase(text: String(decoding: bytes, as: UTF8.self), note: "\(bytes.count) random bytes")
        }
        let tokens = ["{", "}", "[", "]", ":", ",", "-", "---", "...", "&a", "*a", "<<", "!!int", "\"", "'", "\n", "  ",
                      "#", "|", ">", "?", "%YAML 1.1", "apiVersion", "kind", "VirtualService", "spec", "1e999", "\u{FEFF}",
                      "null", "~", "\t", "networking.istio.io/v1", "metadata", "name", "x", "1:2", "0x", " "]
        let count = rng.int(0...200)
        let text = (0..<count).map { _ in rng.pick(tokens) }.joined()
        return FuzzCase(text: text, note: "\(count) tokens")
    }

    /// Streams and lists: many documents, empty ones, markers, `kind: List`, JSON arrays, BOMs.
    static let documents = DocumentMutator(name: "documents") { rng in
        var parts: [String] = []
        for _ in 0..<rng.int(0...5) {
            parts.append(rng.chance(0.8) ? rng.pick(FuzzSeeds.texts) : rng.pick(["", "# only a comment", "null", "~", "...", "[]", "{}", "- a", "42", "\"text\""]))
        }
        var text: String
        var note: String
        switch rng.int(0...5) {
        case 0:
            text = parts.joined(separator: rng.pick(["\n---\n", "\n...\n---\n", "\n--- # c\n", "\n---\n\n---\n"]))
            note = "stream of \(parts.count)"
        case 1:
            let items = (0..<rng.int(0...4)).map { _ in rng.pick(FuzzSeeds.trees).json() } + (rng.chance(0.3) ? ["1", "null", "[]"] : [])
            text = "[" + items.joined(separator: ",") + "]"
            note = "JSON array of \(items.count)"
        case 2:
            let items = (0..<rng.int(0...4)).map { _ in rng.pick(FuzzSeeds.trees).json() }
            let kind = rng.pick(["List", "VirtualServiceList", "list", "ListX", "XList"])
            text = "{\"apiVersion\":\"v1\",\"kind\":\"\(kind)\",\"items\":" + (rng.chance(0.9) ? "[" + items.joined(separator: ",") + "]" : "{}") + "}"
            note = "\(kind) of \(items.count)"
        case 3:
            let count = rng.pick([50, 200, 500])
            text = (0..<count).map { i in
                "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: we-\(i)}\nspec: {address: 10.1.\(i / 250).\(i % 250), labels: {app: reviews, version: v1}, weight: \(rng.pick([1, 1000, 4_000_000]))}"
            }.joined(separator: "\n---\n")
            note = "\(count) WorkloadEntries"
        case 4:
            text = rng.pick(["\u{FEFF}", "%YAML 1.1\n---\n", "%YAML 1.2\n---\n", "%YAML 2.0\n---\n", "%TAG ! tag:x,2000:\n---\n", "\u{FEFF}\u{FEFF}", "  \n\t\n"])
                + parts.joined(separator: "\n---\n")
            note = "prefixed stream of \(parts.count)"
        default:
            text = "apiVersion: v1\nkind: List\nitems:\n" + parts.filter { !$0.isEmpty }.map { part in
                "- " + part.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n  ")
            }.joined(separator: "\n")
            note = "YAML List of \(parts.count)"
        }
        return FuzzCase(text: text, note: note)
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

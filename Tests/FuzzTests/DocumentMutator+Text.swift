/// The mutators that write their text directly rather than editing a seed tree: weight sums
/// across documents, nesting, aliases, bytes, and document streams.
extension DocumentMutator {
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
            documents.append(
                """
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
                documents.append(
                    """
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
            documents.append(
                """
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
            let levels = rng.int(1...9)
            let fanOut = rng.int(2...10)
            var lines = ["x0: &a0 [\"lol\", \"lol\"]"]
            for level in 1...levels {
                lines.append("x\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: fanOut).joined(separator: ", ") + "]")
            }
            let place = rng.int(0...2)
            let spec =
                switch place {
                case 0: "spec: {host: reviews, trafficPolicy: {bomb: *a\(levels)}}"
                case 1: "spec: {host: reviews, subsets: [{name: v1, labels: *a\(levels)}]}"
                default: "spec: {host: reviews}\nstatus: *a\(levels)"
                }
            return FuzzCase(
                text: header + lines.joined(separator: "\n") + "\n" + spec,
                note: "billion laughs \(fanOut)^\(levels) at \(place)")
        case 2:
            let levels = rng.int(1...7)
            let fanOut = rng.int(2...6)
            var lines = ["x0: &a0 {k: v}"]
            for level in 1...levels {
                lines.append("x\(level): &a\(level) {" + (0..<fanOut).map { "k\($0): *a\(level - 1)" }.joined(separator: ", ") + "}")
            }
            return FuzzCase(
                text: header + lines.joined(separator: "\n") + "\nspec:\n  host: reviews\n  trafficPolicy:\n    ? *a\(levels)\n    : x",
                note: "alias as mapping key \(fanOut)^\(levels)")
        case 3:
            let levels = rng.int(1...8)
            var lines = ["base0: &m0 {host: reviews}"]
            for level in 1...levels {
                lines.append("base\(level): &m\(level) {<<: [*m\(level - 1), *m\(level - 1)], k\(level): \(level)}")
            }
            return FuzzCase(
                text: header + lines.joined(separator: "\n") + "\nspec:\n  <<: *m\(levels)",
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
            case 0:
                bytes[at] ^= UInt8(1) << UInt8(rng.int(0...7))
                edits.append("flip@\(at)")
            case 1:
                bytes[at] = UInt8(rng.int(0...255))
                edits.append("set@\(at)")
            case 2:
                let invalid = rng.pick(
                    [[0xC0, 0x80], [0xFF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x00], [0xEF, 0xBB, 0xBF]] as [[UInt8]])
                bytes.insert(contentsOf: invalid, at: at)
                edits.append("utf8@\(at)")
            case 3:
                let end = min(bytes.count, at + rng.int(1...40))
                bytes.removeSubrange(at..<end)
                edits.append("cut@\(at)")
            case 4:
                let end = min(bytes.count, at + rng.int(1...40))
                bytes.insert(contentsOf: bytes[at..<end], at: at)
                edits.append("repeat@\(at)")
            case 5:
                bytes = Array(bytes[0..<at])
                edits.append("truncate@\(at)")
            case 6:
                let token = rng.pick([":", "-", "&", "*", "!", "|", ">", "%", "@", "`", "{", "[", "\t", "\"", "'", "#", "? ", "---", "\n  "])
                bytes.insert(contentsOf: Array(token.utf8), at: at)
                edits.append("insert\(token.debugDescription)@\(at)")
            default:
                bytes = bytes.map { $0 == 0x20 && rng.chance(0.1) ? 0x09 : $0 }
                edits.append("tabs")
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
        let tokens = [
            "{", "}", "[", "]", ":", ",", "-", "---", "...", "&a", "*a", "<<", "!!int", "\"", "'", "\n", "  ",
            "#", "|", ">", "?", "%YAML 1.1", "apiVersion", "kind", "VirtualService", "spec", "1e999", "\u{FEFF}",
            "null", "~", "\t", "networking.istio.io/v1", "metadata", "name", "x", "1:2", "0x", " ",
        ]
        let count = rng.int(0...200)
        let text = (0..<count).map { _ in rng.pick(tokens) }.joined()
        return FuzzCase(text: text, note: "\(count) tokens")
    }

    /// Streams and lists: many documents, empty ones, markers, `kind: List`, JSON arrays, BOMs.
    static let documents = DocumentMutator(name: "documents") { rng in
        var parts: [String] = []
        for _ in 0..<rng.int(0...5) {
            parts.append(
                rng.chance(0.8)
                    ? rng.pick(FuzzSeeds.texts) : rng.pick(["", "# only a comment", "null", "~", "...", "[]", "{}", "- a", "42", "\"text\""]))
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
            text =
                "{\"apiVersion\":\"v1\",\"kind\":\"\(kind)\",\"items\":" + (rng.chance(0.9) ? "[" + items.joined(separator: ",") + "]" : "{}") + "}"
            note = "\(kind) of \(items.count)"
        case 3:
            let count = rng.pick([50, 200, 500])
            text = (0..<count).map { i in
                "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: we-\(i)}\nspec: {address: 10.1.\(i / 250).\(i % 250), labels: {app: reviews, version: v1}, weight: \(rng.pick([1, 1000, 4_000_000]))}"
            }.joined(separator: "\n---\n")
            note = "\(count) WorkloadEntries"
        case 4:
            text =
                rng.pick([
                    "\u{FEFF}", "%YAML 1.1\n---\n", "%YAML 1.2\n---\n", "%YAML 2.0\n---\n", "%TAG ! tag:x,2000:\n---\n", "\u{FEFF}\u{FEFF}",
                    "  \n\t\n",
                ])
                + parts.joined(separator: "\n---\n")
            note = "prefixed stream of \(parts.count)"
        default:
            text =
                "apiVersion: v1\nkind: List\nitems:\n"
                + parts.filter { !$0.isEmpty }.map { part in
                    "- " + part.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n  ")
                }.joined(separator: "\n")
            note = "YAML List of \(parts.count)"
        }
        return FuzzCase(text: text, note: note)
    }
}

/// The shape of one field in Istio's schema.
public indirect enum SchemaNode: Sendable, Hashable {
    /// A string, number, boolean, enum name or duration.
    case scalar
    /// A `google.protobuf.Struct`/`Any`/`Value`: any JSON.
    case open
    /// A message, by its name in `IstioSchema`'s table.
    case message(String)
    /// A repeated field.
    case list(SchemaNode)
    /// A map from string keys.
    case map(SchemaNode)
}

/// Istio's schema for the kinds meshd knows (every field of their specs, generated from istio/api
/// by `scripts/generate-istio-schema.py`), and which of those fields meshd translates.
///
/// A field outside the schema is a mistake (a typo such as `weigth` silently sends a
/// destination no traffic), so the write path refuses it. A field inside the schema that meshd
/// does not translate yet is accepted with a warning, so the same YAML keeps working, unchanged,
/// once a release honours it.
public enum IstioSchema {
    /// One finding in a spec.
    public struct Finding: Sendable, Hashable {
        /// The full field path (`spec.http[0].route[0].weigth`).
        public var path: String
        /// The field's own name.
        public var name: String
    }

    /// What a spec holds beyond what meshd translates.
    public struct Report: Sendable, Hashable {
        /// Fields not in Istio's schema, in document order.
        public var unknown: [Finding] = []
        /// Fields in Istio's schema that meshd does not translate yet: the outermost such field of
        /// each subtree, in document order.
        public var notHonoured: [Finding] = []
        /// Fields meshd translates that some kind of client does not honour as written
        /// (`ClientSupport`), in document order.
        public var clientLimits: [ClientFinding] = []
    }

    /// A field one kind of client does not honour, or gets a substitute for.
    public struct ClientFinding: Sendable, Hashable {
        /// The full field path.
        public var path: String
        /// The kinds of proxy that make the same of the field (sorted; both Envoy kinds share
        /// one finding when their columns agree).
        public var kinds: [ProxyKind]
        /// The warning (`not honoured by proxyless gRPC clients`, `substituted for …`).
        public var message: String
    }

    static let messages = generatedMessages().merging(meshdMessages) { generated, _ in generated }

    /// The warning text for a field meshd accepts but does not translate yet.
    public static let notHonouredMessage = "not yet honoured by meshd"

    /// Checks `spec` of a resource of kind `kind` (`VirtualService`…) against Istio's schema and
    /// meshd's honoured fields. A kind without a schema yields an empty report.
    public static func check(kind: String, spec: JSONValue) -> Report {
        var report = Report()
        guard let root = generatedRoots[kind] ?? meshdRoots[kind] else { return report }
        walk(
            spec, .message(root), path: "spec", pattern: "", honoured: HonouredFields.of(kind),
            clients: ClientSupport.of(kind), into: &report)
        return report
    }

    /// Walks `value` as `node`. `honoured` is nil inside a subtree already reported as not
    /// honoured: unknown fields are still looked for there, but nothing more is reported as not
    /// honoured (one warning per subtree).
    private static func walk(
        _ value: JSONValue, _ node: SchemaNode, path: String, pattern: String,
        honoured: Set<String>?, clients: [String: [ProxyKind: FieldSupport]], into report: inout Report
    ) {
        switch node {
        case .scalar, .open:
            return
        case .list(let element):
            guard case .array(let items) = value else { return }
            for (index, item) in items.enumerated() {
                walk(item, element, path: "\(path)[\(index)]", pattern: pattern, honoured: honoured, clients: clients, into: &report)
            }
        case .map(let element):
            guard case .object(let members) = value else { return }
            for key in members.keys.sorted() {
                guard let item = members[key] else { continue }
                walk(item, element, path: "\(path).\(key)", pattern: pattern, honoured: honoured, clients: clients, into: &report)
            }
        case .message(let name):
            guard case .object(let members) = value, let fields = messages[name] else { return }
            for key in members.keys.sorted() {
                guard let item = members[key] else { continue }
                let childPath = "\(path).\(key)"
                guard let child = fields[key] else {
                    report.unknown.append(Finding(path: childPath, name: key))
                    continue
                }
                let childPattern = pattern.isEmpty ? key : "\(pattern).\(key)"
                var inner = honoured
                if let set = honoured {
                    var matched: String?
                    if set.contains(childPattern + ".*") {
                        inner = nil  // wholly honoured: only unknown fields are left to find
                        matched = childPattern + ".*"
                    } else if case .string(let text) = item, set.contains("\(childPattern)=\(text)") {
                        // An enum honoured for this value only (resolution STATIC, tls mode ISTIO_MUTUAL).
                        matched = "\(childPattern)=\(text)"
                    } else if set.contains(childPattern) {
                        matched = childPattern
                    } else {
                        report.notHonoured.append(Finding(path: childPath, name: key))
                        inner = nil
                    }
                    if let matched, let columns = clients[matched] {
                        report.clientLimits += ClientSupport.findings(columns, path: childPath)
                    }
                }
                walk(item, child, path: childPath, pattern: childPattern, honoured: inner, clients: clients, into: &report)
            }
        }
    }
}

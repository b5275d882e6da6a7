/// Turns a request body (YAML or JSON) into config resources, checking each document's envelope
/// (`apiVersion`, `kind`, `metadata`); the spec is checked later by `ConfigValidator`.
public enum ConfigDocumentParser {
    /// Parses one request body: YAML (one or many `---` documents, empty documents skipped) or
    /// JSON (one object, a JSON array of objects, or a `kind: List` with `items`). Each doc must
    /// have apiVersion "networking.istio.io/<supported version>", a supported kind, metadata.name
    /// (DNS-1123 subdomain); metadata.namespace defaults to "default".
    ///
    /// Resources come back in document order. A `List` (or a top-level array) is expanded in
    /// place, in YAML as in JSON. Errors name documents by their 1-based position among the
    /// non-empty documents after that expansion (`document 2`) until the kind and name are known.
    /// - Throws: `.malformed` for syntax errors and non-mapping documents, `.unknownKind` for
    ///   kinds meshd does not serve, `.invalid` for a bad envelope. The first error wins.
    public static func parse(_ text: String) throws(MeshModelError) -> [ConfigResource] {
        try parseDocuments(text).map(\.resource)
    }

    /// `parse`, keeping each document's `metadata.resourceVersion` (optimistic concurrency).
    public static func parseDocuments(_ text: String) throws(MeshModelError) -> [ConfigDocument] {
        var documents: [JSONValue] = []
        for document in try values(in: text) {
            expand(document, into: &documents)
        }
        var parsed: [ConfigDocument] = []
        for (i, document) in documents.enumerated() {
            parsed.append(try resource(from: document, label: "document \(i + 1)"))
        }
        return parsed
    }

    /// Every document in `text` (YAML stream or JSON; arrays and `List`s expanded) as a plain
    /// value, whatever its kind: for tools that read Kubernetes manifests (`meshctl kube-inject`).
    public static func plainDocuments(_ text: String) throws(MeshModelError) -> [JSONValue] {
        var documents: [JSONValue] = []
        for document in try values(in: text) {
            expand(document, into: &documents)
        }
        return documents
    }

    /// The documents in `text`. JSON is recognised by its first character and read with the
    /// strict JSON parser (exact numbers and error positions); if that fails the text is tried
    /// as YAML, since a YAML flow mapping also starts with `{`, and the JSON error is reported
    /// when both fail.
    private static func values(in text: String) throws(MeshModelError) -> [JSONValue] {
        let body = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        guard let first = body.first(where: { !$0.isWhitespace }) else { return [] }
        guard first == "{" || first == "[" else { return try YAMLConverter.documents(in: body) }
        do {
            let value = try JSONValue.parse(json: body)
            return value == .null ? [] : [value]
        } catch {
            if let documents = try? YAMLConverter.documents(in: body) { return documents }
            throw error
        }
    }

    /// Expands a top-level array or a Kubernetes `List` (`kind: List` or `<Kind>List` with
    /// `items`) into its elements; anything else is one document.
    private static func expand(_ document: JSONValue, into documents: inout [JSONValue]) {
        if case .array(let elements) = document {
            documents.append(contentsOf: elements)
        } else if let kind = document["kind"]?.stringValue, kind.hasSuffix("List"),
            case .array(let items)? = document["items"]
        {
            documents.append(contentsOf: items)
        } else {
            documents.append(document)
        }
    }

    /// One document already read into a value (an object from the Kubernetes API), checked as a
    /// document of a request body is; `label` names it in errors until its kind and name are known.
    public static func document(from document: JSONValue, label: String) throws(MeshModelError) -> ConfigDocument {
        try resource(from: document, label: label)
    }

    private static func resource(from document: JSONValue, label: String) throws(MeshModelError) -> ConfigDocument {
        guard case .object = document else {
            throw MeshModelError(code: .malformed, resource: label, message: "expected a mapping")
        }
        let root = FieldReader(document, path: "", resource: label)
        let kindName = try root["kind"].requiredString()
        guard let kind = ConfigKind(rawValue: kindName) else {
            let supported = ConfigKind.allCases.filter(\.isAppliedAsDocument).sorted().map(\.rawValue).joined(separator: ", ")
            throw MeshModelError(
                code: .unknownKind, resource: label, field: "kind",
                message: "unknown kind \"\(kindName)\"; supported: \(supported)")
        }
        let metadata = root["metadata"]
        guard try metadata.object() != nil else { throw metadata["name"].error("required") }
        let name = try metadata["name"].requiredString()
        guard NameRules.isDNS1123Subdomain(name) else { throw metadata["name"].error(NameRules.subdomainRule) }
        let namespace = try metadata["namespace"].string().flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        guard NameRules.isDNS1123Label(namespace) else { throw metadata["namespace"].error(NameRules.labelRule) }

        // From here on errors can name the resource itself.
        let key = ConfigKey(kind: kind, namespace: namespace, name: name)
        let named = FieldReader(document, path: "", resource: key.description)
        let apiVersion = try named["apiVersion"].requiredString()
        guard kind.supportedAPIVersions.contains(apiVersion) else {
            throw named["apiVersion"].error(
                "unsupported apiVersion \"\(apiVersion)\"; supported: "
                    + kind.supportedAPIVersions.joined(separator: ", "))
        }
        let labels = try named["metadata"]["labels"].stringMap()
        let annotations = try named["metadata"]["annotations"].stringMap()
        let spec = try named["spec"].object() ?? [:]
        let resource = ConfigResource(
            key: key, apiVersion: apiVersion, labels: labels, annotations: annotations, spec: .object(spec))
        return ConfigDocument(resource: resource, resourceVersion: try resourceVersion(named["metadata"]["resourceVersion"]))
    }

    /// `metadata.resourceVersion`: a positive revision as a decimal string (as meshd and
    /// Kubernetes write it) or an integer; absent, `null` or `""` (Kubernetes' "unset") is nil.
    private static func resourceVersion(_ field: FieldReader) throws(MeshModelError) -> Int64? {
        guard !field.isAbsent, let value = field.value else { return nil }
        let message = "expected a revision (a positive integer, or a string of decimal digits, as meshctl get prints it)"
        switch value {
        case .string(""):
            return nil
        case .string(let text):
            guard text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let revision = Int64(text), revision > 0 else {
                throw field.error(message)
            }
            return revision
        case .number:
            guard let revision = value.intValue, revision > 0 else { throw field.error(message) }
            return Int64(revision)
        default:
            throw field.error(message)
        }
    }
}

/// One parsed document: the resource and the `metadata.resourceVersion` it was sent with.
public struct ConfigDocument: Sendable, Hashable {
    /// The resource.
    public var resource: ConfigResource
    /// The revision the writer last read (`metadata.resourceVersion`); nil: create-or-replace.
    public var resourceVersion: Int64?

    /// Creates a document.
    public init(resource: ConfigResource, resourceVersion: Int64? = nil) {
        self.resource = resource
        self.resourceVersion = resourceVersion
    }
}

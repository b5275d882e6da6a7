import MeshCommon

/// meshd's mesh configuration: the part of Istio's `MeshConfig` (istio.mesh.v1alpha1) meshd
/// reads from `--mesh-config FILE`, in the YAML Istio's `mesh` ConfigMap key holds.
///
/// Every field of Istio's MeshConfig is known (`IstioSchema`): a field outside it is refused, as
/// in every other input; a field meshd does not act on yet is accepted and listed in
/// `notHonoured` (shown by `/debug/mesh` and `meshctl x mesh-config`, logged at load), so an
/// operator's existing Istio mesh config loads unchanged. Stricter than istiod, which retries
/// with unknown fields allowed and only logs a bad extension provider: here the whole file is
/// refused and the last good configuration stays in force.
public struct MeshConfig: Sendable, Hashable {
    /// `rootNamespace`; nil when the file leaves it out (meshd's flag or default applies).
    public var rootNamespace: String?
    /// `trustDomain`; nil when the file leaves it out.
    public var trustDomain: String?
    /// `extensionProviders`, in file order; names are unique.
    public var extensionProviders: [ExtensionProvider]
    /// The mesh-wide telemetry settings (`accessLogFile`, `accessLogFormat`,
    /// `accessLogEncoding`, `defaultProviders`).
    public var telemetry = TelemetrySettings()

    /// An empty configuration: every setting from flags and defaults.
    public init(rootNamespace: String? = nil, trustDomain: String? = nil, extensionProviders: [ExtensionProvider] = []) {
        self.rootNamespace = rootNamespace
        self.trustDomain = trustDomain
        self.extensionProviders = extensionProviders
    }

    /// A parsed file: the configuration and what it holds that meshd does not act on.
    public struct Loaded: Sendable, Hashable {
        /// The configuration.
        public var config: MeshConfig
        /// The file's document as JSON (what `/debug/mesh` shows).
        public var document: JSONValue
        /// Fields of Istio's MeshConfig meshd accepts but does not act on, as `field: reason`.
        public var notHonoured: [IstioSchema.Finding]
    }

    /// The fields meshd acts on: `extensionProviders` of the ext_authz and telemetry kinds, and
    /// the mesh-wide telemetry settings (`telemetryHonoured`).
    static let honoured: Set<String> = Set([
        "rootNamespace", "trustDomain", "extensionProviders", "extensionProviders.name",
        "extensionProviders.envoyExtAuthzHttp.*", "extensionProviders.envoyExtAuthzGrpc.*",
    ]).union(telemetryHonoured)

    /// The provider with `name`, if any.
    public func provider(named name: String) -> ExtensionProvider? {
        extensionProviders.first { $0.name == name }
    }

    /// Parses and validates a mesh config file's text (one YAML document; empty means defaults).
    /// - Throws: `MeshModelError` naming the field (`extensionProviders[0].envoyExtAuthzHttp.port`).
    public static func parse(_ text: String) throws(MeshModelError) -> Loaded {
        let documents = try YAMLConverter.documents(in: text)
        guard documents.count <= 1 else {
            throw MeshModelError(code: .invalid, message: "a mesh config file holds one YAML document, found \(documents.count)")
        }
        let value = documents.first ?? .object([:])
        let root = FieldReader(value, path: "", resource: "mesh config")
        guard try root.object() != nil else { throw root.error("a mesh config is a YAML mapping") }
        let report = IstioSchema.check(kind: "MeshConfig", spec: value)
        if let unknown = report.unknown.first {
            throw MeshModelError(
                code: .invalid, resource: "mesh config", field: Self.strip(unknown.path),
                message: "unknown field \"\(unknown.name)\" (not a field of Istio's MeshConfig)")
        }
        var config = MeshConfig()
        config.rootNamespace = try root["rootNamespace"].string()
        if let namespace = config.rootNamespace, !NameRules.isDNS1123Label(namespace) {
            throw root["rootNamespace"].error("\"\(namespace)\" \(NameRules.labelRule)")
        }
        config.trustDomain = try root["trustDomain"].string()
        if let domain = config.trustDomain, !Self.isTrustDomain(domain) {
            throw root["trustDomain"].error("\"\(domain)\" is not a trust domain (dot-separated DNS-1123 labels)")
        }
        var names: Set<String> = []
        for reader in try root["extensionProviders"].list() {
            let provider = try ExtensionProvider(reading: reader)
            guard names.insert(provider.name).inserted else {
                throw reader["name"].error("duplicate extension provider name \"\(provider.name)\"")
            }
            config.extensionProviders.append(provider)
        }
        try config.readTelemetry(root)
        let notHonoured = report.notHonoured.map { IstioSchema.Finding(path: strip($0.path), name: $0.name) }
        return Loaded(config: config, document: value, notHonoured: notHonoured)
    }

    /// The mesh-wide telemetry settings: the legacy access log and the default providers, which
    /// must name telemetry providers of the file.
    private mutating func readTelemetry(_ root: FieldReader) throws(MeshModelError) {
        telemetry.accessLogFile = try root["accessLogFile"].string() ?? ""
        telemetry.accessLogFormat = try root["accessLogFormat"].string() ?? ""
        telemetry.accessLogJSON = try root["accessLogEncoding"].oneOf(["TEXT", "JSON"], what: "accessLogEncoding") == "JSON"
        if telemetry.accessLogJSON, !telemetry.accessLogFormat.isEmpty {
            let parsed = try? JSONValue.parse(json: telemetry.accessLogFormat)
            guard case .object? = parsed else {
                throw root["accessLogFormat"].error("with accessLogEncoding JSON, accessLogFormat must be a JSON object of format strings")
            }
        }
        let defaults = root["defaultProviders"]
        telemetry.defaultProviders.accessLogging = try defaults["accessLogging"].strings()
        telemetry.defaultProviders.tracing = try defaults["tracing"].strings()
        for (index, name) in telemetry.defaultProviders.accessLogging.enumerated() where provider(named: name)?.isAccessLogger != true {
            throw defaults["accessLogging"].error(
                "[\(index)] \"\(name)\" is not an envoyFileAccessLog or envoyOtelAls extension provider of this file")
        }
        for (index, name) in telemetry.defaultProviders.tracing.enumerated() where provider(named: name)?.tracer == nil {
            throw defaults["tracing"].error("[\(index)] \"\(name)\" is not a zipkin or opentelemetry extension provider of this file")
        }
    }

    /// Istio's rule: non-empty, every dot-separated label a DNS-1123 label (a trailing dot allowed).
    static func isTrustDomain(_ domain: String) -> Bool {
        var labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count > 1, labels.last == "" { labels.removeLast() }
        return !domain.isEmpty && labels.allSatisfy { NameRules.isDNS1123Label(String($0)) }
    }

    /// The schema walk names fields under `spec.`; a mesh config has no spec.
    private static func strip(_ path: String) -> String {
        path.hasPrefix("spec.") ? String(path.dropFirst(5)) : path
    }
}

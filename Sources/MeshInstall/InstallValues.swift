import MeshModel

/// The values an install is generated from, by dotted key (`meshd.replicas`), as istioctl's
/// `--set`: a profile sets them, a values file and `--set` override them. Every key is typed and
/// documented (`InstallValues.keys`, docs/install.md); an unknown key or a value of the wrong
/// type is refused, naming the key.
public struct InstallValues: Sendable, Equatable {
    /// One settable key.
    public struct Key: Sendable {
        /// The dotted name.
        public let name: String
        /// What the key's value must be.
        public let type: ValueType
        /// What it does (docs and `--help`).
        public let summary: String
    }

    /// A key's value type.
    public enum ValueType: String, Sendable {
        case string, int, bool
    }

    /// A value.
    public enum Value: Sendable, Equatable, CustomStringConvertible {
        case string(String), int(Int), bool(Bool)
        public var description: String {
            switch self {
            case .string(let s): s
            case .int(let i): String(i)
            case .bool(let b): String(b)
            }
        }
    }

    /// Every key, with its type and meaning.
    public static let keys: [Key] = [
        Key(name: "hub", type: .string, summary: "Image registry and path: images are HUB/meshd, HUB/proxy, HUB/mesh-init."),
        Key(name: "tag", type: .string, summary: "Image tag of all three images."),
        Key(name: "namespace", type: .string, summary: "meshd's namespace (and the gateways')."),
        Key(name: "revision", type: .string, summary: "The revision pods select with istio.io/rev."),
        Key(name: "imagePullPolicy", type: .string, summary: "imagePullPolicy of every container: Always, IfNotPresent or Never."),
        Key(name: "clusterDomain", type: .string, summary: "The cluster's DNS domain."),
        Key(name: "meshd.replicas", type: .int, summary: "meshd replicas (2 or more survive a node drain; the PDB keeps one)."),
        Key(name: "meshd.resources.requests.cpu", type: .string, summary: "meshd's CPU request."),
        Key(name: "meshd.resources.requests.memory", type: .string, summary: "meshd's memory request."),
        Key(name: "meshd.logLevel", type: .string, summary: "meshd's --log-level."),
        Key(name: "proxy.resources.requests.cpu", type: .string, summary: "Each sidecar's and gateway's CPU request."),
        Key(name: "proxy.resources.requests.memory", type: .string, summary: "Each sidecar's and gateway's memory request."),
        Key(name: "proxy.resources.limits.cpu", type: .string, summary: "Each sidecar's and gateway's CPU limit."),
        Key(name: "proxy.resources.limits.memory", type: .string, summary: "Each sidecar's and gateway's memory limit."),
        Key(name: "gateways.ingress.enabled", type: .bool, summary: "Deploy the ingress gateway istio-ingressgateway."),
        Key(name: "gateways.ingress.replicas", type: .int, summary: "Ingress gateway replicas."),
        Key(name: "gateways.ingress.serviceType", type: .string, summary: "The ingress gateway Service's type: LoadBalancer, NodePort or ClusterIP."),
        Key(name: "gateways.egress.enabled", type: .bool, summary: "Deploy the egress gateway istio-egressgateway."),
        Key(name: "gateways.egress.replicas", type: .int, summary: "Egress gateway replicas."),
    ]

    /// The profiles, as istioctl's: what each sets over `default`.
    public static let profiles: [String: [String: Value]] = [
        "default": [:],
        "minimal": ["gateways.ingress.enabled": .bool(false)],
        "demo": [
            "gateways.egress.enabled": .bool(true), "meshd.replicas": .int(1),
            "meshd.resources.requests.cpu": .string("10m"), "meshd.resources.requests.memory": .string("100Mi"),
            "proxy.resources.requests.cpu": .string("10m"), "proxy.resources.requests.memory": .string("40Mi"),
        ],
    ]

    /// `default`'s values.
    static let defaults: [String: Value] = [
        "hub": .string("docker.io/meshd"), "tag": .string(InstallManifest.version), "namespace": .string("mesh-system"),
        "revision": .string("default"), "imagePullPolicy": .string("IfNotPresent"), "clusterDomain": .string("cluster.local"),
        "meshd.replicas": .int(2), "meshd.resources.requests.cpu": .string("500m"), "meshd.resources.requests.memory": .string("256Mi"),
        "meshd.logLevel": .string("info"),
        "proxy.resources.requests.cpu": .string("100m"), "proxy.resources.requests.memory": .string("128Mi"),
        "proxy.resources.limits.cpu": .string("2"), "proxy.resources.limits.memory": .string("1Gi"),
        "gateways.ingress.enabled": .bool(true), "gateways.ingress.replicas": .int(1), "gateways.ingress.serviceType": .string("LoadBalancer"),
        "gateways.egress.enabled": .bool(false), "gateways.egress.replicas": .int(1),
    ]

    /// The values by key.
    public private(set) var values: [String: Value]
    /// The profile they started from.
    public let profile: String

    /// A profile's values.
    /// - Throws: `InstallError` for an unknown profile.
    public init(profile: String) throws(InstallError) {
        guard let overrides = Self.profiles[profile] else {
            throw InstallError("unknown profile \(profile) (profiles: \(Self.profiles.keys.sorted().joined(separator: ", ")))")
        }
        self.profile = profile
        values = Self.defaults.merging(overrides) { $1 }
    }

    /// Applies a values file: a YAML or JSON mapping, nested (`meshd: {replicas: 3}`) or dotted.
    public mutating func apply(file text: String, source: String) throws(InstallError) {
        let documents: [JSONValue]
        do {
            documents = try ConfigDocumentParser.plainDocuments(text)
        } catch {
            throw InstallError("\(source): \(error.message)")
        }
        guard documents.count <= 1 else { throw InstallError("\(source): expected one document, found \(documents.count)") }
        guard let document = documents.first else { return }
        guard case .object = document else { throw InstallError("\(source): expected a mapping of values") }
        try flatten(document, prefix: "", source: source)
    }

    /// Applies one `KEY=VALUE` of `--set`.
    public mutating func apply(set assignment: String) throws(InstallError) {
        guard let equals = assignment.firstIndex(of: "=") else { throw InstallError("--set \(assignment): expected KEY=VALUE") }
        let name = String(assignment[..<equals])
        let text = String(assignment[assignment.index(after: equals)...])
        let key = try Self.key(name, source: "--set")
        switch key.type {
        case .string: try set(name, .string(text), source: "--set")
        case .int:
            guard let number = Int(text) else { throw InstallError("--set \(name): \(text) is not an integer") }
            try set(name, .int(number), source: "--set")
        case .bool:
            guard text == "true" || text == "false" else { throw InstallError("--set \(name): \(text) is not true or false") }
            try set(name, .bool(text == "true"), source: "--set")
        }
    }

    /// A string value.
    public func string(_ name: String) -> String {
        if case .string(let s)? = values[name] { return s }
        return values[name]?.description ?? ""
    }

    /// An integer value.
    public func int(_ name: String) -> Int {
        if case .int(let i)? = values[name] { return i }
        return 0
    }

    /// A boolean value.
    public func bool(_ name: String) -> Bool {
        if case .bool(let b)? = values[name] { return b }
        return false
    }

    private mutating func flatten(_ value: JSONValue, prefix: String, source: String) throws(InstallError) {
        if case .object(let members) = value {
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                try flatten(member, prefix: prefix.isEmpty ? key : "\(prefix).\(key)", source: source)
            }
            return
        }
        let key = try Self.key(prefix, source: source)
        switch (key.type, value) {
        case (.string, .string(let s)): try set(prefix, .string(s), source: source)
        case (.string, .number): try set(prefix, .string(value.intValue.map(String.init) ?? "\(value.doubleValue ?? 0)"), source: source)
        case (.int, .number):
            guard let i = value.intValue else { throw InstallError("\(source): \(prefix) must be an integer") }
            try set(prefix, .int(i), source: source)
        case (.bool, .bool(let b)): try set(prefix, .bool(b), source: source)
        default:
            throw InstallError("\(source): \(prefix) must be \(key.type == .int ? "an integer" : key.type == .bool ? "true or false" : "a string")")
        }
    }

    private static func key(_ name: String, source: String) throws(InstallError) -> Key {
        guard let key = keys.first(where: { $0.name == name }) else {
            throw InstallError("\(source): unknown value \(name) (known: \(keys.map(\.name).joined(separator: ", ")))")
        }
        return key
    }

    private mutating func set(_ name: String, _ value: Value, source: String) throws(InstallError) {
        switch (name, value) {
        case ("meshd.replicas", .int(let n)) where n < 1, ("gateways.ingress.replicas", .int(let n)) where n < 1,
            ("gateways.egress.replicas", .int(let n)) where n < 1:
            throw InstallError("\(source): \(name) must be at least 1")
        case ("imagePullPolicy", .string(let p)) where !["Always", "IfNotPresent", "Never"].contains(p):
            throw InstallError("\(source): imagePullPolicy must be Always, IfNotPresent or Never")
        case ("gateways.ingress.serviceType", .string(let t)) where !["LoadBalancer", "NodePort", "ClusterIP"].contains(t):
            throw InstallError("\(source): gateways.ingress.serviceType must be LoadBalancer, NodePort or ClusterIP")
        case ("namespace", .string(let ns)) where !NameRules.isDNS1123Label(ns):
            throw InstallError("\(source): namespace \(ns) is not a DNS-1123 label")
        default: break
        }
        values[name] = value
    }
}

/// Why an install cannot be generated or applied.
public struct InstallError: Error, Sendable, CustomStringConvertible {
    /// One line naming the key, object or step.
    public let message: String
    /// Wraps `message`.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

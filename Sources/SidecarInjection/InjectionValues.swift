import MeshCommon
import MeshModel

/// What every injected sidecar is built from: images, meshd's addresses, the cluster's names and
/// the proxy's resources (docs/injection.md, "Values"). Read from YAML or JSON with unknown keys
/// refused; every key has a default derived from the system namespace.
public struct InjectionValues: Sendable, Hashable {
    /// Image registry and repository prefix: images are `HUB/proxy:TAG` and `HUB/mesh-init:TAG`.
    public var hub = "docker.io/meshd"
    /// Image tag.
    public var tag = InjectionValues.defaultTag
    /// meshd's namespace: its pods are never injected, and it names the default addresses.
    public var systemNamespace = "mesh-system"
    /// meshd's xDS over mTLS (the sidecar authenticates with its workload certificate).
    public var discoveryAddress: String?
    /// meshd's CA over TLS (the first certificate, with the projected service-account token).
    public var caAddress: String?
    /// The DNS name meshd's serving certificate carries.
    public var serverName: String?
    /// `CLUSTER_ID` node metadata.
    public var clusterID = "Kubernetes"
    /// The cluster's DNS domain (node ids end `NAMESPACE.svc.DOMAIN`).
    public var clusterDomain = MeshDefaults.clusterDomain
    /// The control-plane revision pods select with `istio.io/rev`.
    public var revision = "default"
    /// `imagePullPolicy` of the injected containers.
    public var imagePullPolicy = "IfNotPresent"
    /// The proxy's requests and limits, unless a pod's annotations say otherwise.
    public var resources = ProxyResources()

    /// meshd's and meshctl's release; the images an install deploys carry it.
    public static let defaultTag = "0.1.0"

    /// Requests and limits of the injected containers.
    public struct ProxyResources: Sendable, Hashable {
        /// `requests.cpu`.
        public var requestsCPU = "100m"
        /// `requests.memory`.
        public var requestsMemory = "128Mi"
        /// `limits.cpu`.
        public var limitsCPU = "2"
        /// `limits.memory`.
        public var limitsMemory = "1Gi"
        /// Istio's defaults.
        public init() {}
    }

    /// The defaults for meshd in `systemNamespace`.
    public init(systemNamespace: String = "mesh-system") {
        self.systemNamespace = systemNamespace
    }

    /// `discoveryAddress`, or `meshd.NAMESPACE.svc:15013`.
    public var resolvedDiscoveryAddress: String { discoveryAddress ?? "\(meshdHost):\(MeshDefaults.mutualTLSPort)" }
    /// `caAddress`, or `meshd.NAMESPACE.svc:15012`.
    public var resolvedCAAddress: String { caAddress ?? "\(meshdHost):\(MeshDefaults.tlsPort)" }
    /// `serverName`, or `meshd.NAMESPACE.svc`.
    public var resolvedServerName: String { serverName ?? meshdHost }
    /// The proxy image.
    public var proxyImage: String { "\(hub)/proxy:\(tag)" }
    /// The traffic-capture image.
    public var initImage: String { "\(hub)/mesh-init:\(tag)" }

    private var meshdHost: String { "meshd.\(systemNamespace).svc" }
}

extension InjectionValues {
    /// Reads values from a YAML or JSON document; `source` names it in errors.
    /// - Throws: `InjectionError` naming the key that is unknown or of the wrong type.
    public static func parse(_ text: String, source: String, systemNamespace: String? = nil) throws(InjectionError) -> InjectionValues {
        let documents: [JSONValue]
        do {
            documents = try ConfigDocumentParser.plainDocuments(text)
        } catch {
            throw InjectionError("\(source): \(error.message)")
        }
        guard documents.count <= 1 else { throw InjectionError("\(source): expected one document, found \(documents.count)") }
        return try from(documents.first ?? .object([:]), source: source, systemNamespace: systemNamespace)
    }

    /// Values from an already-parsed object.
    public static func from(_ value: JSONValue, source: String, systemNamespace: String? = nil) throws(InjectionError) -> InjectionValues {
        guard case .object(let members) = value else { throw InjectionError("\(source): expected a mapping of values") }
        let namespace = try string(members, "systemNamespace", source) ?? systemNamespace ?? "mesh-system"
        var values = InjectionValues(systemNamespace: namespace)
        let known: Set<String> = [
            "hub", "tag", "systemNamespace", "discoveryAddress", "caAddress", "serverName", "clusterID", "clusterDomain",
            "revision", "imagePullPolicy", "proxy",
        ]
        if let unknown = members.keys.sorted().first(where: { !known.contains($0) }) {
            throw InjectionError("\(source): unknown key \(unknown) (known: \(known.sorted().joined(separator: ", ")))")
        }
        if let hub = try string(members, "hub", source) { values.hub = hub }
        if let tag = try string(members, "tag", source) { values.tag = tag }
        values.discoveryAddress = try string(members, "discoveryAddress", source)
        values.caAddress = try string(members, "caAddress", source)
        values.serverName = try string(members, "serverName", source)
        if let id = try string(members, "clusterID", source) { values.clusterID = id }
        if let domain = try string(members, "clusterDomain", source) { values.clusterDomain = domain }
        if let revision = try string(members, "revision", source) { values.revision = revision }
        if let policy = try string(members, "imagePullPolicy", source) {
            guard ["Always", "IfNotPresent", "Never"].contains(policy) else {
                throw InjectionError("\(source): imagePullPolicy must be Always, IfNotPresent or Never, not \(policy)")
            }
            values.imagePullPolicy = policy
        }
        if let proxy = members["proxy"] {
            values.resources = try resources(proxy, source: source)
        }
        return values
    }

    /// The values as the document `parse` reads (what an install writes into its ConfigMap).
    public var document: JSONValue {
        var members: [String: JSONValue] = [
            "hub": .string(hub), "tag": .string(tag), "systemNamespace": .string(systemNamespace),
            "clusterID": .string(clusterID), "clusterDomain": .string(clusterDomain), "revision": .string(revision),
            "imagePullPolicy": .string(imagePullPolicy),
            "proxy": .object(["resources": resources.document]),
        ]
        if let discoveryAddress { members["discoveryAddress"] = .string(discoveryAddress) }
        if let caAddress { members["caAddress"] = .string(caAddress) }
        if let serverName { members["serverName"] = .string(serverName) }
        return .object(members)
    }

    private static func resources(_ proxy: JSONValue, source: String) throws(InjectionError) -> ProxyResources {
        guard case .object(let members) = proxy else { throw InjectionError("\(source): proxy must be a mapping") }
        if let unknown = members.keys.sorted().first(where: { $0 != "resources" }) {
            throw InjectionError("\(source): unknown key proxy.\(unknown) (known: resources)")
        }
        var result = ProxyResources()
        guard let resources = members["resources"] else { return result }
        guard case .object(let kinds) = resources else { throw InjectionError("\(source): proxy.resources must be a mapping") }
        if let unknown = kinds.keys.sorted().first(where: { $0 != "requests" && $0 != "limits" }) {
            throw InjectionError("\(source): unknown key proxy.resources.\(unknown) (known: limits, requests)")
        }
        for (kind, value) in kinds {
            guard case .object(let amounts) = value else { throw InjectionError("\(source): proxy.resources.\(kind) must be a mapping") }
            for (name, amount) in amounts {
                let path = "proxy.resources.\(kind).\(name)"
                guard name == "cpu" || name == "memory" else { throw InjectionError("\(source): unknown key \(path) (known: cpu, memory)") }
                let text: String
                switch amount {
                case .string(let s): text = s
                case .number: text = amount.intValue.map(String.init) ?? "\(amount.doubleValue ?? 0)"
                default: throw InjectionError("\(source): \(path) must be a quantity")
                }
                guard Quantity.isValid(text) else { throw InjectionError("\(source): \(path): \(text) is not a Kubernetes quantity") }
                switch (kind, name) {
                case ("requests", "cpu"): result.requestsCPU = text
                case ("requests", "memory"): result.requestsMemory = text
                case ("limits", "cpu"): result.limitsCPU = text
                default: result.limitsMemory = text
                }
            }
        }
        return result
    }

    private static func string(_ members: [String: JSONValue], _ key: String, _ source: String) throws(InjectionError) -> String? {
        guard let value = members[key], value != .null else { return nil }
        guard case .string(let text) = value, !text.isEmpty else { throw InjectionError("\(source): \(key) must be a non-empty string") }
        return text
    }
}

extension InjectionValues.ProxyResources {
    /// `{requests: {cpu, memory}, limits: {cpu, memory}}`.
    public var document: JSONValue {
        .object([
            "requests": .object(["cpu": .string(requestsCPU), "memory": .string(requestsMemory)]),
            "limits": .object(["cpu": .string(limitsCPU), "memory": .string(limitsMemory)]),
        ])
    }
}

/// Why a pod cannot be injected as asked, or why values cannot be read.
public struct InjectionError: Error, Sendable, CustomStringConvertible {
    /// One line naming the annotation or key and what is wrong with it.
    public let message: String
    /// Wraps `message`.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Kubernetes' resource quantity grammar (apimachinery resource.Quantity): a decimal number and
/// a binary (Ki…Ei) or decimal (m, k, M…E) suffix, or a decimal exponent.
enum Quantity {
    static func isValid(_ text: String) -> Bool {
        var rest = Substring(text)
        if rest.first == "+" || rest.first == "-" { rest = rest.dropFirst() }
        let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard !number.isEmpty, number.filter({ $0 == "." }).count <= 1, number != "." else { return false }
        let suffix = rest.dropFirst(number.count)
        if ["", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"].contains(String(suffix)) { return true }
        guard let e = suffix.first, e == "e" || e == "E" else { return false }
        var exponent = suffix.dropFirst()
        if exponent.first == "+" || exponent.first == "-" { exponent = exponent.dropFirst() }
        return !exponent.isEmpty && exponent.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// The quantity's amount in base units (cores, bytes), for comparisons; nil when invalid.
    static func value(_ text: String) -> Double? {
        guard isValid(text) else { return nil }
        let suffixes: [(String, Double)] = [
            ("Ki", 1024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("Ti", 1_099_511_627_776), ("Pi", 1_125_899_906_842_624),
            ("Ei", 1_152_921_504_606_846_976), ("m", 0.001), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18),
        ]
        for (suffix, scale) in suffixes where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * scale }
        }
        return Double(text)
    }
}

/// One `hosts` entry of a Sidecar egress listener: `namespace/dnsName`, Istio's forms.
///
/// The namespace part is `*` (any namespace), `.` (the namespace the Sidecar applies in), or a
/// namespace name; a leading `~` turns the entry into an exclusion (`~/h` excludes `h` from
/// every namespace, `~ns/h` only from `ns`), as current Istio reads it — `~/*` therefore imports
/// nothing, which is what older Istio documents `~` to mean. The DNS part is `*`, a wildcard
/// `*.example.com` (matching any name ending in `.example.com`), or a fully qualified name.
public struct NamespacedHost: Sendable, Hashable, CustomStringConvertible {
    /// Which namespaces' services an entry speaks of.
    public enum Namespace: Sendable, Hashable {
        /// `*`: every namespace.
        case any
        /// `.`: the namespace the Sidecar applies in.
        case current
        /// A namespace by name.
        case named(String)
    }

    /// Why an entry is malformed.
    struct SyntaxError: Error {
        var message: String
    }

    /// The namespace part (without the `~`).
    public var namespace: Namespace
    /// The DNS part: `*`, `*.suffix`, or an exact host.
    public var dnsName: String
    /// Whether the entry excludes rather than imports (`~` prefix).
    public var excluded: Bool

    /// Creates an entry.
    public init(namespace: Namespace, dnsName: String, excluded: Bool = false) {
        self.namespace = namespace
        self.dnsName = dnsName
        self.excluded = excluded
    }

    /// The entry as written.
    public var description: String {
        let ns =
            switch namespace {
            case .any: "*"
            case .current: "."
            case .named(let name): name
            }
        return (excluded ? "~" : "") + (excluded && namespace == .any ? "" : ns) + "/" + dnsName
    }

    /// Whether the entry names `host` of a service in `serviceNamespace`, with `.` meaning
    /// `configNamespace`. Exclusion is not applied here (see `SidecarEgress.imports`).
    public func matches(host: String, serviceNamespace: String, configNamespace: String) -> Bool {
        let namespaceMatches =
            switch namespace {
            case .any: true
            case .current: serviceNamespace == configNamespace
            case .named(let name): serviceNamespace == name
            }
        return namespaceMatches && HostName.matches(pattern: dnsName, host: host)
    }
}

extension NamespacedHost {
    /// Parses and validates `text` as Istio's `ValidateNamespaceSlashWildcardHostname` does for
    /// sidecars: `namespace/dnsName`, both parts non-empty, the DNS part fully qualified (or
    /// `*`) with a wildcard only as the whole first label.
    init(parsing text: String) throws(SyntaxError) {
        guard let slash = text.firstIndex(of: "/") else {
            throw SyntaxError(message: "host \"\(text)\" must be of the form namespace/dnsName (e.g. ./*, prod/reviews.prod.svc.cluster.local)")
        }
        var ns = String(text[..<slash])
        let dnsName = String(text[text.index(after: slash)...])
        excluded = ns.hasPrefix("~")
        if excluded { ns.removeFirst() }
        guard !ns.isEmpty || excluded, !dnsName.isEmpty else {
            throw SyntaxError(message: "host \"\(text)\": the namespace and the dnsName must not be empty")
        }
        switch ns {
        case "", "*": namespace = .any
        case ".": namespace = .current
        default:
            guard NameRules.isDNS1123Label(ns) else {
                throw SyntaxError(message: "host \"\(text)\": invalid namespace \"\(ns)\" (use *, ., ~ or a namespace name)")
            }
            namespace = .named(ns)
        }
        if dnsName != "*" {
            guard dnsName.contains(".") else {
                throw SyntaxError(message: "host \"\(text)\": short names are not allowed; use the fully qualified name")
            }
            let partial = dnsName.contains("*") && !(dnsName.hasPrefix("*.") && !dnsName.dropFirst().contains("*"))
            guard NameRules.isHost(dnsName), !partial else {
                throw SyntaxError(message: "host \"\(text)\": invalid dnsName \"\(dnsName)\" (a wildcard may only be the whole first label)")
            }
        }
        self.dnsName = dnsName
    }
}

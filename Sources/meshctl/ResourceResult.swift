/// One line of an apply or delete answer: which resource, and what happened to it.
struct ResourceResult: Decodable, Sendable {
    /// The kind as meshd names it, e.g. `VirtualService`.
    let kind: String
    /// The resource's namespace; absent for cluster-scoped kinds.
    let namespace: String?
    /// The resource's name.
    let name: String
    /// `created`, `configured`, `unchanged`, `deleted` or `notFound`.
    let action: String
    /// Sent by newer servers; preferred over the built-in group table when present.
    let apiVersion: String?

    /// Istio API groups by kind, only to print kubectl-style `kind.group/name` lines; a kind not
    /// listed prints without a group. Resolving user-typed kind names is meshd's job, not this.
    private static let groups: [String: String] = [
        "virtualservice": "networking.istio.io",
        "destinationrule": "networking.istio.io",
        "gateway": "networking.istio.io",
        "serviceentry": "networking.istio.io",
        "workloadentry": "networking.istio.io",
        "workloadgroup": "networking.istio.io",
        "sidecar": "networking.istio.io",
        "envoyfilter": "networking.istio.io",
        "peerauthentication": "security.istio.io",
        "authorizationpolicy": "security.istio.io",
        "requestauthentication": "security.istio.io",
        "telemetry": "telemetry.istio.io",
        "canary": "meshd.io",
    ]

    /// `virtualservice.networking.istio.io/reviews`, as kubectl names a resource.
    var qualifiedName: String {
        let kind = self.kind.lowercased()
        let group: String?
        if let apiVersion, let slash = apiVersion.firstIndex(of: "/") {
            group = String(apiVersion[..<slash])
        } else {
            group = Self.groups[kind]
        }
        return (group.map { "\(kind).\($0)" } ?? kind) + "/" + name
    }

    /// Whether meshd reported that the resource did not exist (delete only).
    var isNotFound: Bool { action == "notFound" }

    /// The line printed for this result, e.g. `virtualservice.networking.istio.io/reviews created`.
    var line: String { isNotFound ? "\(qualifiedName) not found" : "\(qualifiedName) \(action)" }
}

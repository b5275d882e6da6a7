import MeshModel

/// What a VirtualService's rules are being built for, as Istio binds them: the mesh (sidecars
/// and proxyless clients: `gateways` empty or naming `mesh`) or a set of Gateways by
/// `namespace/name` (the Gateways whose servers share the route configuration or listener being
/// built). A match's own `gateways` overrides the VirtualService's.
public enum RouteBinding: Sendable, Hashable {
    /// Sidecars and proxyless clients.
    case mesh
    /// The Gateways named, as `namespace/name`.
    case gateways(Set<String>)

    /// The reserved gateway name for sidecars and proxyless clients.
    public static let meshName = "mesh"

    /// Whether rules with `gateways` (a match's own, else the VirtualService's), written in a
    /// VirtualService in `namespace`, apply to this binding.
    public func admits(_ gateways: [String], namespace: String) -> Bool {
        switch self {
        case .mesh:
            return gateways.isEmpty || gateways.contains(Self.meshName)
        case .gateways(let names):
            return gateways.contains { $0 != Self.meshName && names.contains(Self.resolve($0, namespace: namespace)) }
        }
    }

    /// A VirtualService's gateway reference as `namespace/name`, as istiod resolves it: `ns/name`
    /// as written, `./name` and a bare `name` in the VirtualService's namespace, the old FQDN form
    /// `name.ns.svc.cluster.local` (or `name.ns`) by its first two labels.
    public static func resolve(_ reference: String, namespace: String) -> String {
        if reference.hasPrefix("./") { return "\(namespace)/\(reference.dropFirst(2))" }
        if reference.contains("/") { return reference }
        let labels = reference.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count >= 2 { return "\(labels[1])/\(labels[0])" }
        return "\(namespace)/\(reference)"
    }

    /// The Gateways (as `namespace/name`) a VirtualService in `namespace` binds anywhere: its own
    /// `gateways` and every match's.
    public static func gatewayNames(of spec: VirtualService, namespace: String) -> Set<String> {
        var written = spec.gateways
        for rule in spec.http { for match in rule.match { written += match.gateways } }
        for rule in spec.tcp { for match in rule.match { written += match.gateways } }
        for rule in spec.tls { for match in rule.match { written += match.connection.gateways } }
        return Set(written.filter { $0 != meshName }.map { resolve($0, namespace: namespace) })
    }
}

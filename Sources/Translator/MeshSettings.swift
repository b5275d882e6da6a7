/// Mesh-wide settings the push context is built with (a small part of Istio's MeshConfig).
///
/// A value passed down from meshd's flags to where contexts are built (`ConfigIndex`), never a
/// global, so tests and benchmarks can build contexts for any mesh side by side.
public struct MeshSettings: Sendable, Hashable {
    /// The mesh root namespace (`--root-namespace`, Istio's `rootNamespace`): its Sidecar
    /// without a selector is the mesh-wide default, and its VirtualServices and
    /// DestinationRules are the last resort of the namespace-aware lookup.
    public var rootNamespace: String

    /// Istio's default root namespace.
    public static let defaultRootNamespace = "istio-system"

    /// Creates settings; `rootNamespace` defaults to `istio-system`.
    public init(rootNamespace: String = MeshSettings.defaultRootNamespace) {
        self.rootNamespace = rootNamespace
    }
}

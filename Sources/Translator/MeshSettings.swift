import MeshModel

/// Mesh-wide settings the push context is built with: meshd's mesh configuration (Istio's
/// MeshConfig, `--mesh-config`: root namespace, extension providers, telemetry defaults) and what meshd fetched for it (the JWKS of RequestAuthentications'
/// `jwksUri`s).
///
/// A value passed down from meshd's flags to where contexts are built (`ConfigIndex`), never a
/// global, so tests and benchmarks can build contexts for any mesh side by side. These inputs
/// change without a store write (a reloaded file, a rotated key set), so they carry their own
/// `generation`: a context is identified by its store revision and this generation together.
public struct MeshSettings: Sendable, Hashable {
    /// The mesh root namespace (`--root-namespace` or the mesh config's `rootNamespace`): its
    /// Sidecar without a selector is the mesh-wide default, its policies apply mesh-wide, and its
    /// VirtualServices and DestinationRules are the last resort of the namespace-aware lookup.
    public var rootNamespace: String
    /// The mesh config's `extensionProviders`: the external authorizers CUSTOM policies name.
    public var extensionProviders: [MeshConfig.ExtensionProvider]
    /// The mesh config's access log file and default telemetry providers (Telemetry resources
    /// name the providers themselves among `extensionProviders`).
    public var telemetry: MeshConfig.TelemetrySettings
    /// The last good key set fetched from each `jwksUri` (absent: never fetched successfully).
    public var fetchedKeySets: [String: String]
    /// Bumped whenever any of the above changes while meshd runs (0 for the settings meshd starts with).
    public var generation: Int64

    /// Istio's default root namespace.
    public static let defaultRootNamespace = "istio-system"

    /// Creates settings; `rootNamespace` defaults to `istio-system`.
    public init(
        rootNamespace: String = MeshSettings.defaultRootNamespace, extensionProviders: [MeshConfig.ExtensionProvider] = [],
        fetchedKeySets: [String: String] = [:], generation: Int64 = 0, telemetry: MeshConfig.TelemetrySettings = .init()
    ) {
        self.telemetry = telemetry
        self.rootNamespace = rootNamespace
        self.extensionProviders = extensionProviders
        self.fetchedKeySets = fetchedKeySets
        self.generation = generation
    }

    /// The provider named `name`, if the mesh config has one.
    public func provider(named name: String) -> MeshConfig.ExtensionProvider? {
        extensionProviders.first { $0.name == name }
    }
}

/// Produces the resources of one xDS type for one proxy.
///
/// Contract: a pure function of `(view, push)` — no globals, no store access — and the view
/// is a pure function of `(view.key, push)`, so the output can be cached under that key and
/// shared by every proxy with the same key. Output is sorted by name.
public protocol ResourceGenerator: Sendable {
    /// The type URL of everything it generates.
    var typeURL: String { get }
    /// Every resource of this type a proxy with `view` may ask for.
    func generate(for view: ProxyView, in push: PushContext) -> [XDSResource]
}

/// A generator whose output for one service depends only on that service (and the rules for
/// it), so an endpoint-only change regenerates just the services it touched.
public protocol HostScopedGenerator: ResourceGenerator {
    /// The resources of the services `hosts` that `view` sees, exactly as `generate(for:in:)`
    /// makes them (nothing for a host outside the view).
    func generate(for view: ProxyView, in push: PushContext, hosts: Set<String>) -> [XDSResource]
}

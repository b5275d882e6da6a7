import Foundation
import MeshModel
import Storage

/// One canary as a decision is made on it: the stored resource, its typed spec and status, and
/// the VirtualService it steps, all read at one moment.
public struct CanaryCase: Sendable {
    /// The stored `Canary` (its revision guards every write made on this reading).
    public var canary: StoredConfig
    /// Its spec.
    public var spec: CanarySpec
    /// Its status; nil before it started.
    public var status: CanaryStatus?
    /// The VirtualService it steps as stored; nil when there is none.
    public var virtualService: StoredConfig?

    /// The canary's key.
    public var key: ConfigKey { canary.resource.key }
    /// `canary default/reviews`: the actor of the changes the canary makes on its own.
    public var actor: String { "canary \(key.namespace)/\(key.name)" }
    /// The step rule for this canary's host and subsets in the VirtualService's namespace.
    public var routes: CanaryRoutes {
        CanaryRoutes(host: spec.resolvedHost(namespace: key.namespace), namespace: key.namespace, from: spec.from, to: spec.to)
    }

    /// Creates a case.
    public init(canary: StoredConfig, spec: CanarySpec, status: CanaryStatus?, virtualService: StoredConfig?) {
        self.canary = canary
        self.spec = spec
        self.status = status
        self.virtualService = virtualService
    }

    /// Reads `canary`'s spec and status; nil when it does not validate (a resource stored under
    /// older rules is left alone, as the push side leaves it out).
    public static func read(_ canary: StoredConfig) -> (spec: CanarySpec, status: CanaryStatus?)? {
        guard case .canary(let spec)? = try? ConfigValidator.validate(canary.resource) else { return nil }
        let status = canary.resource.status.flatMap { try? CanaryStatus(json: $0, resource: canary.resource.key.description) }
        return (spec, status)
    }

    /// The VirtualService `spec` steps, among `candidates` (the canary's namespace's): the one
    /// named, else the oldest whose hosts name the canary's host.
    public static func virtualService(for spec: CanarySpec, namespace: String, among candidates: [StoredConfig]) -> StoredConfig? {
        if let name = spec.virtualService { return candidates.first { $0.resource.key.name == name } }
        let host = spec.resolvedHost(namespace: namespace).lowercased()
        return candidates.sorted { ($0.createdRevision, $0.resource.key) < ($1.createdRevision, $1.resource.key) }.first { stored in
            guard case .array(let hosts)? = stored.resource.spec["hosts"] else { return false }
            return hosts.contains { $0.stringValue.map { HostName.resolve($0, namespace: namespace).lowercased() == host } ?? false }
        }
    }
}

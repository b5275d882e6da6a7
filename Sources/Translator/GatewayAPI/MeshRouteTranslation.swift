import Discovery
import MeshModel

/// Gateway API routes (HTTPRoute, GRPCRoute) attached to Services — the GAMMA pattern — as the
/// VirtualServices the mesh's route builder reads, with each route's status. Pure: a function of
/// the routes, the ReferenceGrants and the registry.
///
/// The rules (docs/gateway-api.md), as istiod's: every route of one namespace attached to one
/// Service becomes one VirtualService for the Service's name, in the route's namespace, its
/// matches ordered by the API's precedence (`MeshRouteOrder`). A route in the Service's own
/// namespace (a producer route) serves every client; one in another namespace (a consumer
/// route) serves the clients of its namespace only. `hostnames` do not apply to Service parents.
/// A parent's `port` (or `sectionName`, a port's name) limits the route to that port.
public enum MeshRouteTranslation {
    /// One route with what orders it.
    public struct RouteInput: Sendable, Hashable {
        public var key: ConfigKey
        public var createdRevision: Int64
        public var route: GatewayRoute

        public init(key: ConfigKey, createdRevision: Int64, route: GatewayRoute) {
            self.key = key
            self.createdRevision = createdRevision
            self.route = route
        }
    }

    /// What the routes amount to.
    public struct Result: Sendable {
        /// Per Service host: one VirtualService per route namespace, oldest first.
        public var virtualServices: [String: [PushContext.VirtualServiceEntry]] = [:]
        /// Each route's status.
        public var statuses: [ConfigKey: RouteStatus] = [:]
        /// Problems, at the route's field paths.
        public var warnings: [ConfigWarning] = []
    }

    /// The API group routes and grants belong to.
    static let group = "gateway.networking.k8s.io"

    /// Translates `routes` (any order) under `grants` against `registry`.
    public static func translate(
        routes: [RouteInput], grants: [(key: ConfigKey, grant: ReferenceGrant)], registry: RegistrySnapshot
    ) -> Result {
        var result = Result()
        // (route namespace, Service host) → converted matches, and the routes they came from.
        var buckets: [Bucket: [MeshRouteRules.Converted]] = [:]
        var sources: [Bucket: [RouteInput]] = [:]
        for input in routes.sorted(by: { ($0.createdRevision, $0.key) < ($1.createdRevision, $1.key) }) {
            let key = input.key
            let route = input.route
            let parentHosts = Set(route.parentRefs.filter(\.isService).map { HostName.resolve($0.name, namespace: $0.namespace ?? key.namespace) })
            let resolve = { (ref: GatewayRoute.ObjectReference) in
                backend(ref, routeKey: key, parentHosts: parentHosts, grants: grants, registry: registry)
            }
            // ResolvedRefs: every backend and mirror, reported at its path.
            var problems: [(reason: String, message: String)] = []
            for (path, ref) in route.referencedBackends {
                if case .invalid(let reason, let message) = resolve(ref) {
                    problems.append((reason, message))
                    result.warnings.append(ConfigWarning(key: key, field: path, message: message))
                }
            }
            if !route.hostnames.isEmpty, route.parentRefs.contains(where: \.isService) {
                result.warnings.append(
                    ConfigWarning(
                        key: key, field: "spec.hostnames",
                        message: "not used for Service parents: the mesh routes a Service by its own names (as istiod)"))
            }
            for (path, ref) in route.extensionRefs {
                result.warnings.append(
                    ConfigWarning(key: key, field: path, message: "\(ref): meshd knows no extension filters; the rule answers 500"))
            }
            var parents: [RouteStatus.Parent] = []
            for (index, parent) in route.parentRefs.enumerated() {
                guard parent.isService else {
                    result.warnings.append(
                        ConfigWarning(
                            key: key, field: "spec.parentRefs[\(index)]",
                            message:
                                "parent \(parent.group.isEmpty ? "core" : parent.group)/\(parent.kind) \(parent.name): meshd routes Service parents (the mesh) only; this parent is left to its own controller"
                        ))
                    continue
                }
                let namespace = parent.namespace ?? key.namespace
                let host = HostName.resolve(parent.name, namespace: namespace)
                var port = parent.port
                var refusal: String?
                if let service = registry.service(host) {
                    if let section = parent.sectionName {
                        if let named = service.ports.first(where: { $0.name == section }) {
                            if let port, port != named.number { refusal = "port \(port) is not the port named \"\(section)\"" }
                            port = named.number
                        } else {
                            refusal = "parent service \"\(parent.name)\" has no port named \"\(section)\""
                        }
                    } else if let port, service.port(port) == nil {
                        refusal = "parent service \"\(parent.name)\" has no port \(port)"
                    }
                } else {
                    refusal = "parent service: \"\(parent.name)\" not found"
                }
                var accepted = RouteStatus.Condition(type: "Accepted", isTrue: true, reason: "Accepted", message: "Route was valid")
                if let refusal {
                    accepted = .init(type: "Accepted", isTrue: false, reason: "NoMatchingParent", message: refusal)
                    result.warnings.append(
                        ConfigWarning(key: key, field: "spec.parentRefs[\(index)]", message: "\(refusal); the route is not attached to it"))
                } else {
                    let converted = MeshRouteRules.convert(
                        route, key: key, port: port, routeOrder: (input.createdRevision, key), resolve: resolve)
                    for problem in converted.problems where !problems.contains(where: { $0.message == problem.message }) {
                        problems.append(problem)
                    }
                    let bucket = Bucket(namespace: key.namespace, host: host, serviceNamespace: namespace)
                    buckets[bucket, default: []] += converted.rules
                    if sources[bucket]?.contains(where: { $0.key == key }) != true { sources[bucket, default: []].append(input) }
                }
                var resolved = RouteStatus.Condition(type: "ResolvedRefs", isTrue: true, reason: "ResolvedRefs", message: "All references resolved")
                if let last = problems.last {
                    resolved = .init(
                        type: "ResolvedRefs", isTrue: false, reason: last.reason, message: problems.map(\.message).joined(separator: "; "))
                }
                parents.append(RouteStatus.Parent(parentRef: parent, conditions: [accepted, resolved]))
            }
            result.statuses[key] = RouteStatus(parents: parents)
        }
        for (bucket, converted) in buckets {
            guard let owners = sources[bucket], let oldest = owners.first else { continue }
            let spec = VirtualService(
                hosts: [bucket.host], http: converted.sorted { $0.order < $1.order }.map(\.rule),
                exportTo: bucket.namespace == bucket.serviceNamespace ? [] : [bucket.namespace])
            let entry = PushContext.VirtualServiceEntry(
                key: oldest.key, createdRevision: oldest.createdRevision, spec: spec, routes: owners.map(\.key))
            result.virtualServices[bucket.host, default: []].append(entry)
        }
        for host in result.virtualServices.keys {
            result.virtualServices[host]?.sort { ($0.createdRevision, $0.key) < ($1.createdRevision, $1.key) }
        }
        return result
    }

    /// Where converted matches gather: one VirtualService each.
    private struct Bucket: Hashable {
        var namespace: String
        var host: String
        var serviceNamespace: String
    }

    /// A backend reference resolved: a Service that exists, in the route's namespace or one whose
    /// ReferenceGrant lets the route refer to it (or the route's own parent Service, which its
    /// clients reach anyway: a consumer route may send to the Service it is attached to).
    static func backend(
        _ ref: GatewayRoute.ObjectReference, routeKey: ConfigKey, parentHosts: Set<String>,
        grants: [(key: ConfigKey, grant: ReferenceGrant)], registry: RegistrySnapshot
    ) -> MeshRouteRules.Backend {
        guard ref.group.isEmpty, ref.kind == "Service" else {
            return .invalid(reason: "InvalidKind", message: "referencing unsupported backendRef: group \"\(ref.group)\" kind \"\(ref.kind)\"")
        }
        let namespace = ref.namespace ?? routeKey.namespace
        let host = HostName.resolve(ref.name, namespace: namespace)
        if namespace != routeKey.namespace, !parentHosts.contains(host) {
            let permitted = grants.contains { entry in
                entry.key.namespace == namespace
                    && entry.grant.permits(
                        fromGroup: group, fromKind: routeKey.kind.rawValue, fromNamespace: routeKey.namespace, toGroup: "", toKind: "Service",
                        name: ref.name)
            }
            guard permitted else {
                return .invalid(
                    reason: "RefNotPermitted",
                    message:
                        "backendRef \(namespace)/\(ref.name) not accessible to a \(routeKey.kind.rawValue) in namespace \"\(routeKey.namespace)\" (missing a ReferenceGrant?)"
                )
            }
        }
        guard let service = registry.service(host) else {
            return .invalid(reason: "BackendNotFound", message: "backend(\(host)) not found")
        }
        guard let port = ref.port, service.port(port) != nil else {
            return .invalid(reason: "BackendNotFound", message: "backend(\(host)) has no port \(ref.port.map(String.init) ?? "(none given)")")
        }
        return .service(Destination(host: host, port: port))
    }
}

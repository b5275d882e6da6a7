import Discovery
import MeshModel

/// The registry Kubernetes objects make, as Istio reads them: Services become services
/// (`NAME.NAMESPACE.svc.DOMAIN`), their EndpointSlices the endpoints, each with its Pod's labels,
/// service account and (through the Pod's node) locality.
///
/// Pure and incremental: each object change recomputes only the services it can affect and
/// says whether services changed or only some hosts' endpoints, so a pod turning ready is
/// pushed as EDS only. Rules (Istio's, `docs/kubernetes.md`):
/// - Slices join their Service by `kubernetes.io/service-name`; their ports join the Service's
///   by name; an address listed twice (a slice being split) counts once.
/// - An endpoint whose `targetRef` Pod is not known yet is left out until the Pod arrives; an
///   endpoint without a Pod `targetRef` is kept, with the labels and account of a ready Pod
///   with its IP in the namespace if there is one.
/// - Health: `KubeEndpointSlice.Entry.health(drains:)`; terminating endpoints are not sent.
/// - ExternalName Services are aliases, as in Istio: no service of their own, their host
///   matched where the target's routes are (`PlatformServices.aliases`). Services hidden with
///   `exportTo: ~` are not pushed; `unservedServices` names them.
public struct KubernetesRegistry: Sendable {
    /// What one object change did to the registry's output.
    public struct Change: Sendable, Hashable {
        /// A service was added, removed or changed (not only its endpoints).
        public var services = false
        /// Hosts whose endpoints changed.
        public var endpointHosts: Set<String> = []

        public init(services: Bool = false, endpointHosts: Set<String> = []) {
            self.services = services
            self.endpointHosts = endpointHosts
        }

        /// Whether anything changed.
        public var isEmpty: Bool { !services && endpointHosts.isEmpty }

        /// Both changes.
        public mutating func formUnion(_ other: Change) {
            services = services || other.services
            endpointHosts.formUnion(other.endpointHosts)
        }
    }

    /// The cluster's DNS domain (`cluster.local`).
    public let clusterDomain: String
    private var services: [ObjectKey: KubeService] = [:]
    private var slices: [ObjectKey: KubeEndpointSlice] = [:]
    private var slicesByService: [ObjectKey: Set<ObjectKey>] = [:]
    /// Which slices name each pod, so a pod change recomputes only their services.
    private var slicesByPod: [ObjectKey: Set<ObjectKey>] = [:]
    private var pods: [ObjectKey: KubePod] = [:]
    /// Ready pods by (namespace, IP), for endpoints without a targetRef.
    private var readyPodsByIP: [ObjectKey: ObjectKey] = [:]
    /// Slices with an endpoint that names no pod, by (namespace, address): the slices a pod's
    /// IP can matter to, found without scanning every slice of the namespace.
    private var unreferencedByIP: [ObjectKey: Set<ObjectKey>] = [:]
    private var nodes: [String: [String: String]] = [:]
    /// Namespace labels (kept for discovery selectors and injection; not read by the registry).
    public private(set) var namespaceLabels: [String: [String: String]] = [:]
    /// The services, endpoints and selectors the push side merges in (generation 0: the
    /// platform registry source numbers them).
    public private(set) var output = PlatformServices.none

    public init(clusterDomain: String = "cluster.local") {
        self.clusterDomain = clusterDomain
    }

    /// Services meshd does not push, with why: `exportTo: ~`.
    public var unservedServices: [(key: ObjectKey, reason: String)] {
        services.values.compactMap { service -> (key: ObjectKey, reason: String)? in
            service.hidden ? (service.key, "networking.istio.io/exportTo contains ~") : nil
        }.sorted { $0.key < $1.key }
    }

    /// Applies an object's new state.
    public mutating func upsert(_ resource: KubeResource, _ object: KubeObject) -> Change {
        apply(resource, key: object.key, object: object)
    }

    /// Applies an object's removal.
    public mutating func delete(_ resource: KubeResource, _ object: KubeObject) -> Change {
        apply(resource, key: object.key, object: nil)
    }

    private mutating func apply(_ resource: KubeResource, key: ObjectKey, object: KubeObject?) -> Change {
        switch resource {
        case .namespaces:
            namespaceLabels[key.name] = object.map { KubeService.strings($0.body["metadata"]?["labels"]) }
            return Change()
        case .nodes:
            let labels = object.map { KubeService.strings($0.body["metadata"]?["labels"]) }
            guard nodes[key.name] != labels else { return Change() }
            nodes[key.name] = labels
            // Localities of the node's pods: rare, so every service with a pod there is redone.
            let affected = Set(
                pods.filter { $0.value.nodeName == key.name }.keys.flatMap { slicesByPod[$0] ?? [] }.compactMap { slices[$0]?.service })
            return recompute(affected)
        case .pods:
            let old = pods[key]
            let new = object.map(KubePod.init)
            guard old != new else { return Change() }
            pods[key] = new
            updateReadyIndex(key: key, old: old, new: new)
            var affected = Set((slicesByPod[key] ?? []).compactMap { slices[$0]?.service })
            // Endpoints without a targetRef find their pod by IP.
            if old?.ip != new?.ip || old?.ready != new?.ready || old?.labels != new?.labels || old?.serviceAccount != new?.serviceAccount {
                for ip in Set([old?.ip, new?.ip].compactMap { $0 }) {
                    let slices = unreferencedByIP[ObjectKey(namespace: key.namespace, name: ip)] ?? []
                    affected.formUnion(slices.compactMap { self.slices[$0]?.service })
                }
            }
            return recompute(affected)
        case .services:
            let old = services[key]
            let new = object.flatMap { KubeService($0, clusterDomain: clusterDomain) }
            guard old != new else { return Change() }
            services[key] = new
            var change = recompute([key])
            change.services = true
            return change
        case .endpointslices:
            let old = slices[key]
            let new = object.map(KubeEndpointSlice.init)
            guard old != new else { return Change() }
            if let old {
                if let service = old.service { slicesByService[service]?.remove(key) }
                for pod in old.entries.compactMap(\.pod) { slicesByPod[pod]?.remove(key) }
                for address in old.unreferencedAddresses { unreferencedByIP[ObjectKey(namespace: key.namespace, name: address)]?.remove(key) }
            }
            slices[key] = new
            if let new {
                if let service = new.service { slicesByService[service, default: []].insert(key) }
                for pod in new.entries.compactMap(\.pod) { slicesByPod[pod, default: []].insert(key) }
                for address in new.unreferencedAddresses {
                    unreferencedByIP[ObjectKey(namespace: key.namespace, name: address), default: []].insert(key)
                }
            }
            return recompute(Set([old?.service, new?.service].compactMap { $0 }))
        }
    }

    private mutating func updateReadyIndex(key: ObjectKey, old: KubePod?, new: KubePod?) {
        if let ip = old?.ip, readyPodsByIP[ObjectKey(namespace: key.namespace, name: ip)] == key {
            readyPodsByIP.removeValue(forKey: ObjectKey(namespace: key.namespace, name: ip))
        }
        guard let new, let ip = new.ip, new.ready else { return }
        readyPodsByIP[ObjectKey(namespace: key.namespace, name: ip)] = key
    }

    /// A pod is ready when it has no deletion timestamp, is not terminal, and its `Ready`
    /// condition is `True` (Istio's IP index).
    static func isReady(_ object: KubeObject) -> Bool {
        let body = object.body
        if body["metadata"]?["deletionTimestamp"]?.stringValue != nil { return false }
        if let phase = body["status"]?["phase"]?.stringValue, phase == "Succeeded" || phase == "Failed" { return false }
        let conditions = body["status"]?["conditions"]?.arrayValue ?? []
        return conditions.contains { $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True" }
    }

    /// Recomputes the output of `keys`' services: whether each service changed, and which
    /// hosts' endpoints did.
    private mutating func recompute(_ keys: Set<ObjectKey>) -> Change {
        var change = Change()
        for key in keys {
            let host = "\(key.name).\(key.namespace).svc.\(clusterDomain)"
            let alias = services[key].flatMap { $0.hidden ? nil : $0.externalName }
            if output.aliases[host] != alias {
                output.aliases[host] = alias
                change.services = true
            }
            guard let service = services[key], service.externalName == nil, !service.hidden else {
                if output.services.removeValue(forKey: host) != nil { change.services = true }
                output.endpoints.removeValue(forKey: host)
                output.selectors.removeValue(forKey: host)
                continue
            }
            if output.services[host] != service.service || output.selectors[host] != service.selector {
                change.services = true
                output.services[host] = service.service
                output.selectors[host] = service.selector
            }
            let endpoints = endpoints(of: service)
            if output.endpoints[host] != endpoints {
                output.endpoints[host] = endpoints
                change.endpointHosts.insert(host)
            }
        }
        return change
    }

    /// The endpoints of `service`'s ports from its slices, in a stable order (slice, then
    /// endpoint, then address); an address and port name listed twice counts once.
    private func endpoints(of service: KubeService) -> [UInt32: [Endpoint]] {
        var byPort: [UInt32: [Endpoint]] = [:]
        for port in service.service.ports { byPort[port.number] = [] }
        var seen: Set<String> = []
        for sliceKey in (slicesByService[service.key] ?? []).sorted() {
            guard let slice = slices[sliceKey] else { continue }
            for entry in slice.entries {
                guard let health = entry.health(drains: service.supportsDraining) else { continue }
                let podKey: ObjectKey?
                if let ref = entry.pod {
                    guard pods[ref] != nil else { continue }  // waits for its pod
                    podKey = ref
                } else {
                    podKey = entry.addresses.first.flatMap { readyPodsByIP[ObjectKey(namespace: sliceKey.namespace, name: $0)] }
                }
                let pod = podKey.flatMap { pods[$0] }
                let source =
                    podKey.map { RegistrySource(kind: .pod, namespace: $0.namespace, name: $0.name) }
                    ?? RegistrySource(kind: .endpointSlice, namespace: sliceKey.namespace, name: sliceKey.name)
                let locality = pod?.locality(nodeLabels: pod?.nodeName.flatMap { nodes[$0] }) ?? Locality()
                for address in entry.addresses {
                    for slicePort in slice.ports {
                        guard let port = service.service.ports.first(where: { $0.name == slicePort.name }), slicePort.number > 0,
                            seen.insert("\(address)|\(slicePort.name)").inserted
                        else { continue }
                        byPort[port.number, default: []].append(
                            Endpoint(
                                address: address, port: slicePort.number, labels: pod?.labels ?? [:], locality: locality, weight: 1,
                                health: health, serviceAccount: pod?.serviceAccount, source: source))
                    }
                }
            }
        }
        return byPort
    }
}

import Discovery
import MeshModel

/// What one view key sees of a PushContext: the services (and ports) it can reach, the
/// VirtualService and DestinationRule chosen for each, the Sidecar that applies and its
/// outbound traffic policy. Generators read this instead of the whole mesh.
///
/// A pure function of `(key, push)` — never of the proxy itself — so every proxy with one key
/// shares it and the snapshot generated from it.
///
/// Visibility: a service is visible when it is exported to the key's namespace and, under a
/// Sidecar with egress listeners, some listener imports its host (and admits the port: a
/// listener with a port admits only service ports of that number; the visible ports are the
/// union over listeners). Services a chosen VirtualService routes to are imported too (all
/// their ports) when exported to the namespace, as Istio adds a VirtualService's destinations.
public struct ProxyView: Sendable, DestinationLookup {
    /// The key the view was computed for.
    public let key: ViewKey
    /// The Sidecar's `outboundTrafficPolicy.mode`, nil without a Sidecar or when it sets none
    /// (kept for the Envoy listeners; proxyless clients have no passthrough).
    public let outboundTrafficPolicy: Sidecar.OutboundTrafficMode?
    /// An Envoy sidecar's inbound ports: the Sidecar's `ingress` listeners when it has any
    /// (Istio's rule: they replace the rest), else its workload's (`key.workloadPorts`).
    public let workloadPorts: [InboundPort]
    /// Visible services sorted by host, each with only its visible ports.
    public let services: [Service]
    /// The VirtualService chosen for each visible host that has one.
    public let virtualServices: [String: PushContext.VirtualServiceEntry]
    /// For a gateway proxy, the VirtualServices bound to its Gateways and exported to its
    /// namespace, oldest first (empty for other kinds, which use `virtualServices`).
    public let gatewayVirtualServices: [PushContext.VirtualServiceEntry]
    /// The DestinationRule chosen for each visible host that has one.
    public let destinationRules: [String: PushContext.DestinationRuleEntry]
    private let servicesByHost: [String: Service]

    /// Computes the view of `key` at `push`.
    public init(key: ViewKey, push: PushContext) {
        self.key = key
        let sidecar = key.sidecar.flatMap { push.sidecars.sidecar($0) }
        outboundTrafficPolicy = sidecar?.spec.outboundTrafficPolicy
        let ingress = GeneratorTable.takesWorkloadPorts(key.kind) ? sidecar?.spec.ingress ?? [] : []
        workloadPorts = ingress.isEmpty ? key.workloadPorts : ingress.map(InboundPort.init(ingress:)).sorted()
        let egress = sidecar?.spec.egress ?? []
        var visible: [String: Service] = [:]
        for service in push.registry.sortedServices where service.isExported(to: key.namespace) {
            var admitted = service
            if !egress.isEmpty {
                admitted.ports = service.ports.filter { Self.admits(egress, port: $0.number, of: service, namespace: key.namespace) }
            }
            if !admitted.ports.isEmpty { visible[service.host] = admitted }
        }
        var virtualServices: [String: PushContext.VirtualServiceEntry] = [:]
        var gatewayVirtualServices: [PushContext.VirtualServiceEntry] = []
        if GeneratorTable.takesGateways(key.kind) {
            // A gateway routes by the VirtualServices bound to its Gateways, never the mesh's.
            let bindings = Set(key.gateways.map { "\($0.namespace)/\($0.name)" })
            gatewayVirtualServices = push.gatewayVirtualServices.filter { entry in
                ExportTo.admits(entry.spec.exportTo, owner: entry.key.namespace, viewer: key.namespace)
                    && !RouteBinding.gatewayNames(of: entry.spec, namespace: entry.key.namespace).isDisjoint(with: bindings)
            }
        } else {
            for service in visible.values {
                virtualServices[service.host] = push.virtualService(for: service.host, serviceNamespace: service.namespace, from: key.namespace)
            }
        }
        // A VirtualService's destinations come with it (one level, as in Istio).
        for entry in Array(virtualServices.values) + gatewayVirtualServices {
            // Mirror destinations too: a mirrored cluster must exist for the proxy to copy to it.
            for destination in entry.spec.referencedDestinations {
                let host = HostName.resolve(destination.host, namespace: entry.key.namespace)
                guard visible[host] == nil, let service = push.registry.service(host), service.isExported(to: key.namespace) else { continue }
                visible[host] = service
            }
        }
        var destinationRules: [String: PushContext.DestinationRuleEntry] = [:]
        for service in visible.values {
            destinationRules[service.host] = push.destinationRule(for: service.host, serviceNamespace: service.namespace, from: key.namespace)
        }
        self.virtualServices = virtualServices
        self.gatewayVirtualServices = gatewayVirtualServices
        self.destinationRules = destinationRules
        servicesByHost = visible
        services = visible.values.sorted { $0.host < $1.host }
    }

    /// Whether a Sidecar's egress listeners admit `port` of `service` for a proxy in `namespace`:
    /// some listener on that port (or on every port) imports the host.
    static func admits(_ egress: [SidecarEgress], port: UInt32, of service: Service, namespace: String) -> Bool {
        egress.contains { listener in
            (listener.port == nil || listener.port == port)
                && listener.imports(host: service.host, serviceNamespace: service.namespace, configNamespace: namespace)
        }
    }

    /// The hosts of the visible services.
    public var hosts: Set<String> { Set(servicesByHost.keys) }

    /// The visible service with `host` (only its visible ports), or nil.
    public func service(_ host: String) -> Service? { servicesByHost[host] }

    /// The DestinationRule chosen for `host`, or nil.
    public func destinationRule(_ host: String) -> PushContext.DestinationRuleEntry? { destinationRules[host] }
}

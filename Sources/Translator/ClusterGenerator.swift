import Discovery
import EnvoyAPI
import MeshModel
import SwiftProtobuf

/// CDS: for every service port an EDS cluster `outbound|PORT||HOST`, plus one
/// `outbound|PORT|SUBSET|HOST` per subset of the host's DestinationRule. Each cluster gets the
/// rule's traffic policy merged for its port and subset (`DestinationRule.policy`): TLS mode
/// `ISTIO_MUTUAL` adds mesh mTLS (see `UpstreamTLS`; SIMPLE and MUTUAL send nothing to gRPC
/// clients, as Istio does), the other blocks what proxyless gRPC
/// clients honour (`ProxylessTrafficPolicy`; every proxy kind gets these shapes for now).
/// Envoy sidecars also get `EnvoyLocalClusters` and their `inbound|PORT||` clusters.
public struct ClusterGenerator: HostScopedGenerator {
    /// The SPIFFE trust domain expected in destination certificates.
    public let trustDomain: String

    public init(trustDomain: String = "cluster.local") {
        self.trustDomain = trustDomain
    }

    public var typeURL: String { TypeURL.cluster }

    public func generate(for view: ProxyView, in push: PushContext) -> [XDSResource] {
        let outbound = generate(for: view, in: push, services: view.services)
        guard view.key.kind == .sidecar else { return outbound }
        // An Envoy sidecar gets the same outbound clusters (so its EDS names are the same),
        // plus its passthrough, black-hole, admin and inbound clusters.
        let local = (EnvoyLocalClusters.all() + EnvoyInbound.clusters(view.workloadPorts)).map { XDSResource(name: $0.name, message: $0) }
        return (outbound + local).sorted { $0.name < $1.name }
    }

    /// The clusters of `hosts` only: mesh mTLS clusters name their endpoints' identities, so an
    /// endpoint change can change them.
    public func generate(for view: ProxyView, in push: PushContext, hosts: Set<String>) -> [XDSResource] {
        generate(for: view, in: push, services: hosts.sorted().compactMap { view.service($0) })
    }

    private func generate(for view: ProxyView, in push: PushContext, services: [Service]) -> [XDSResource] {
        var resources: [XDSResource] = []
        for service in services {
            let rule = view.destinationRule(service.host)?.spec
            for port in service.ports {
                let all = push.registry.endpoints(host: service.host, port: port.number)
                let policy = rule?.policy(subset: nil, port: port.number) ?? PolicySettings()
                resources.append(cluster(ClusterName.outbound(port: port.number, host: service.host), policy: policy,
                                         service: service, port: port, endpoints: all, all: all, kind: view.key.kind))
                for subset in rule?.subsets ?? [] {
                    let selected = all.filter { $0.matches(subset.labels) }
                    let merged = rule?.policy(subset: subset.name, port: port.number) ?? PolicySettings()
                    resources.append(cluster(ClusterName.outbound(port: port.number, subset: subset.name, host: service.host), policy: merged,
                                             service: service, port: port, endpoints: selected, all: all, kind: view.key.kind,
                                             subset: subset.name))
                }
            }
        }
        return resources.sorted { $0.name < $1.name }
    }

    /// One cluster: discovered as `ClusterDiscovery` says for the proxy's kind; the merged
    /// policy in that kind's shapes; mesh mTLS accepting the endpoints' identities and the
    /// service's `subjectAltNames`.
    private func cluster(_ name: String, policy: PolicySettings, service: Service, port: Service.Port,
                         endpoints: [Endpoint], all: [Endpoint], kind: Proxy.Kind, subset: String? = nil) -> XDSResource {
        var cluster = Envoy_Config_Cluster_V3_Cluster()
        cluster.name = name
        switch ClusterDiscovery.of(service, port: port, endpoints: endpoints, serviceHasEndpoints: !all.isEmpty, kind: kind) {
        case .eds:
            cluster.type = .eds
            cluster.edsClusterConfig.edsConfig = .adsV3
            // The EDS name is the cluster name: one ClusterLoadAssignment per cluster, subset-filtered.
            cluster.edsClusterConfig.serviceName = name
        case .logicalDNS(let target):
            cluster.type = .logicalDns
            cluster.loadAssignment = Self.inlineAssignment(name, targets: [target])
        case .strictDNS(let targets):
            cluster.type = .strictDns
            cluster.loadAssignment = Self.inlineAssignment(name, targets: targets)
        case .originalDestination:
            cluster.type = .originalDst
            cluster.lbPolicy = .clusterProvided
        }
        cluster.connectTimeout = Google_Protobuf_Duration(seconds: 10)
        if kind == .proxylessGRPC {
            ProxylessTrafficPolicy.apply(policy, to: &cluster)
        } else if cluster.type != .originalDst {
            EnvoyTrafficPolicy.apply(policy, to: &cluster, protocolName: port.protocolName)
        }
        let tls = kind == .proxylessGRPC
            ? UpstreamTLS.context(policy.tls, endpoints: endpoints, extraIdentities: service.subjectAltNames, trustDomain: trustDomain)
            : UpstreamTLS.envoyContext(policy.tls, endpoints: endpoints, extraIdentities: service.subjectAltNames,
                                       trustDomain: trustDomain, port: port.number, subset: subset, host: service.host)
        if let tls {
            var socket = Envoy_Config_Core_V3_TransportSocket()
            socket.name = UpstreamTLS.transportSocketName
            socket.typedConfig = AnyPacking.pack(tls)
            cluster.transportSocket = socket
        } else if cluster.type == .eds, AutoMTLS.applies(kind: kind, service: service, policy: policy),
                  let mutual = UpstreamTLS.envoyContext(ClientTLSSettings(mode: .istioMutual), endpoints: endpoints,
                                                        extraIdentities: service.subjectAltNames, trustDomain: trustDomain,
                                                        port: port.number, subset: subset, host: service.host) {
            cluster.transportSocketMatches = AutoMTLS.transportSocketMatches(mutual)
        }
        return XDSResource(name: name, message: cluster)
    }

    /// The endpoints of a DNS cluster, carried in the cluster itself.
    private static func inlineAssignment(_ name: String, targets: [ClusterDiscovery.DNSTarget]) -> Envoy_Config_Endpoint_V3_ClusterLoadAssignment {
        var group = Envoy_Config_Endpoint_V3_LocalityLbEndpoints()
        group.lbEndpoints = targets.map { target in
            var endpoint = Envoy_Config_Endpoint_V3_LbEndpoint()
            endpoint.endpoint.address.socketAddress.address = target.host
            endpoint.endpoint.address.socketAddress.portValue = target.port
            return endpoint
        }
        var assignment = Envoy_Config_Endpoint_V3_ClusterLoadAssignment()
        assignment.clusterName = name
        assignment.endpoints = [group]
        return assignment
    }
}

extension Envoy_Config_Core_V3_ConfigSource {
    /// "Over the same ADS stream, v3 resources."
    static var adsV3: Self {
        var source = Self()
        source.ads = Envoy_Config_Core_V3_AggregatedConfigSource()
        source.resourceApiVersion = .v3
        return source
    }
}

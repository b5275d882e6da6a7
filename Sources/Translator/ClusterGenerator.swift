import Discovery
import EnvoyAPI
import MeshModel
import SwiftProtobuf

/// CDS, the outbound clusters every kind of proxy gets: for every service port a cluster
/// `outbound|PORT||HOST`, plus one `outbound|PORT|SUBSET|HOST` per subset of the host's
/// DestinationRule. How a cluster finds its endpoints (`ClusterDiscovery`) and how the rule's
/// traffic policy, merged for its port and subset (`DestinationRule.policy`), is written depend
/// on the dialect: gRPC gets what it honours (`ProxylessTrafficPolicy`, mesh mTLS through its
/// certificate providers, nothing for SIMPLE and MUTUAL, as Istio does; the labels its metrics
/// name the destination by, `CSMTelemetryLabels`), Envoy istiod's shapes
/// (`EnvoyTrafficPolicy`, TLS over SDS) and, with `autoMTLS`, Istio's automatic mTLS.
/// `GeneratorTable` declares which kind gets which; sidecars add their own clusters around it
/// (`EnvoySidecarClusterGenerator`).
public struct ClusterGenerator: HostScopedGenerator {
    /// The SPIFFE trust domain expected in destination certificates.
    public let trustDomain: String
    /// The xDS the clusters are written in.
    public let dialect: ProxyDialect
    /// Whether clusters of services inside the mesh without a TLS setting choose mesh mTLS per
    /// endpoint (`AutoMTLS`; Envoy only).
    public let autoMTLS: Bool

    public init(trustDomain: String, dialect: ProxyDialect, autoMTLS: Bool) {
        self.trustDomain = trustDomain
        self.dialect = dialect
        self.autoMTLS = autoMTLS
    }

    public var typeURL: String { TypeURL.cluster }

    public func generate(for view: ProxyView, in push: PushContext) -> [XDSResource] {
        generate(for: view, in: push, services: view.services)
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
                resources.append(
                    cluster(
                        ClusterName.outbound(port: port.number, host: service.host), policy: policy, push: push,
                        service: service, port: port, endpoints: all, all: all))
                for subset in rule?.subsets ?? [] {
                    let selected = all.filter { $0.matches(subset.labels) }
                    let merged = rule?.policy(subset: subset.name, port: port.number) ?? PolicySettings()
                    resources.append(
                        cluster(
                            ClusterName.outbound(port: port.number, subset: subset.name, host: service.host), policy: merged, push: push,
                            service: service, port: port, endpoints: selected, all: all,
                            subset: subset.name))
                }
            }
        }
        return resources.sorted { $0.name < $1.name }
    }

    /// One cluster: discovered as `ClusterDiscovery` says for the dialect; the merged policy in
    /// the dialect's shapes; mesh mTLS accepting the endpoints' identities and the service's
    /// `subjectAltNames`.
    private func cluster(
        _ name: String, policy: PolicySettings, push: PushContext, service: Service, port: Service.Port,
        endpoints: [Endpoint], all: [Endpoint], subset: String? = nil
    ) -> XDSResource {
        var cluster = Envoy_Config_Cluster_V3_Cluster()
        cluster.name = name
        switch ClusterDiscovery.of(service, port: port, endpoints: endpoints, serviceHasEndpoints: !all.isEmpty, dialect: dialect) {
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
        let tls: Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext?
        switch dialect {
        case .grpc:
            ProxylessTrafficPolicy.apply(policy, to: &cluster)
            CSMTelemetryLabels.apply(to: &cluster, namespace: service.namespace)
            tls = UpstreamTLS.context(policy.tls, endpoints: endpoints, extraIdentities: service.subjectAltNames, trustDomain: trustDomain)
        case .envoy:
            if cluster.type != .originalDst { EnvoyTrafficPolicy.apply(policy, to: &cluster, protocolName: port.protocolName) }
            tls = UpstreamTLS.envoyContext(
                policy.tls, endpoints: endpoints, extraIdentities: service.subjectAltNames,
                trustDomain: trustDomain, port: port.number, subset: subset, host: service.host)
        }
        if let tls {
            var socket = Envoy_Config_Core_V3_TransportSocket()
            socket.name = UpstreamTLS.transportSocketName
            socket.typedConfig = AnyPacking.pack(tls)
            cluster.transportSocket = socket
        } else if autoMTLS, cluster.type == .eds, AutoMTLS.applies(service: service, policy: policy, push: push),
            let mutual = UpstreamTLS.envoyContext(
                ClientTLSSettings(mode: .istioMutual), endpoints: endpoints,
                extraIdentities: service.subjectAltNames, trustDomain: trustDomain,
                port: port.number, subset: subset, host: service.host)
        {
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

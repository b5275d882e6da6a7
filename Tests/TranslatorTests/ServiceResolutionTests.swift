import EnvoyAPI
import MeshModel
import MeshTesting
import SwiftProtobuf
import Testing

@testable import Translator

/// ServiceEntry resolution modes and DestinationRule TLS modes as the clusters a proxyless
/// client receives: never a cluster type or endpoint address gRPC NACKs.
@Suite struct ServiceResolutionTests {
    private func entry(_ resolution: String, endpoints: String, hosts: String = "[api.example.com]", extra: String = "") -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: api, namespace: default}
        spec:
          hosts: \(hosts)
          ports: [{number: 443, name: grpc, protocol: GRPC}]
          resolution: \(resolution)
          endpoints: \(endpoints)
          \(extra)
        """
    }

    private func generated(_ texts: String...) throws -> (clusters: [String: Envoy_Config_Cluster_V3_Cluster], assignments: Set<String>) {
        let push = try pushContextFrom(texts)
        let view = ProxyView(key: push.viewKey(for: proxy), push: push)
        var clusters: [String: Envoy_Config_Cluster_V3_Cluster] = [:]
        for resource in GeneratorTable.testing.resources(TypeURL.cluster, for: view, in: push) {
            clusters[resource.name] = try decode(Envoy_Config_Cluster_V3_Cluster.self, resource)
        }
        return (clusters, Set(GeneratorTable.testing.resources(TypeURL.endpoint, for: view, in: push).map(\.name)))
    }

    private let name = "outbound|443||api.example.com"

    @Test func dnsWithNamedEndpointsBecomesALogicalDNSClusterForTheFirstName() throws {
        let (clusters, assignments) = try generated(
            entry("DNS", endpoints: "[{address: a.example.net, ports: {grpc: 8443}}, {address: b.example.net}]"))
        let cluster = try #require(clusters[name])
        #expect(cluster.type == .logicalDns)
        #expect(!cluster.hasEdsClusterConfig)
        let address = cluster.loadAssignment.endpoints.first?.lbEndpoints.first?.endpoint.address.socketAddress
        #expect(address?.address == "a.example.net" && address?.portValue == 8443)
        #expect(!assignments.contains(name))
    }

    @Test func dnsWithoutEndpointsResolvesTheHostItself() throws {
        let (clusters, _) = try generated(entry("DNS_ROUND_ROBIN", endpoints: "[]"))
        let address = clusters[name]?.loadAssignment.endpoints.first?.lbEndpoints.first?.endpoint.address.socketAddress
        #expect(clusters[name]?.type == .logicalDns)
        #expect(address?.address == "api.example.com" && address?.portValue == 443)
    }

    @Test func dnsWithIPEndpointsAndStaticKeepEDS() throws {
        for text in [entry("DNS", endpoints: "[{address: 10.1.0.1}, {address: 10.1.0.2}]"), entry("STATIC", endpoints: "[{address: 10.1.0.1}]")] {
            let (clusters, assignments) = try generated(text)
            #expect(clusters[name]?.type == .eds)
            #expect(assignments.contains(name))
        }
    }

    @Test func istioMutualAcceptsTheEntrysSubjectAltNamesUnlessTheRuleNamesItsOwn() throws {
        let tls = { (sans: String) in
            """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: api, namespace: default}
            spec: {host: api.example.com, trafficPolicy: {tls: {mode: ISTIO_MUTUAL\(sans)}}}
            """
        }
        let withEntry = entry(
            "STATIC", endpoints: "[{address: 10.1.0.1, serviceAccount: api}]",
            extra: "subjectAltNames: [spiffe://other.domain/ns/x/sa/y]")
        func sans(_ cluster: Envoy_Config_Cluster_V3_Cluster?) throws -> [String] {
            let context = try Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext(
                serializedBytes: try #require(cluster).transportSocket.typedConfig.value)
            return context.commonTlsContext.validationContext.matchTypedSubjectAltNames.map(\.matcher.exact)
        }
        #expect(
            try sans(generated(withEntry, tls("")).clusters[name])
                == ["spiffe://cluster.local/ns/default/sa/api", "spiffe://other.domain/ns/x/sa/y"])
        #expect(
            try sans(generated(withEntry, tls(", subjectAltNames: [spiffe://cluster.local/ns/a/sa/b]")).clusters[name])
                == ["spiffe://cluster.local/ns/a/sa/b"])
    }

    @Test(arguments: ["{mode: SIMPLE, sni: api.example.com}", "{mode: MUTUAL, clientCertificate: /c.pem, privateKey: /k.pem}", "{mode: DISABLE}"])
    func onlyIstioMutualSendsTLSToGRPCClients(tls: String) throws {
        let rule = """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: api, namespace: default}
            spec: {host: api.example.com, trafficPolicy: {tls: \(tls)}}
            """
        let cluster = try #require(try generated(entry("STATIC", endpoints: "[{address: 10.1.0.1}]"), rule).clusters[name])
        #expect(!cluster.hasTransportSocket)
    }
}

import EnvoyAPI
import SwiftProtobuf
import Testing
import Translator
import XDSCore

@testable import PushPipeline
@testable import XDS

@Suite struct ProxyIdentityTests {
    private func node(_ id: String, agent: String = "", metadata: [String: Google_Protobuf_Value] = [:]) -> Envoy_Config_Core_V3_Node {
        var node = Envoy_Config_Core_V3_Node()
        node.id = id
        node.userAgentName = agent
        if !metadata.isEmpty { node.metadata = Google_Protobuf_Struct(fields: metadata) }
        return node
    }

    private func proxy(_ node: Envoy_Config_Core_V3_Node?, peer: AuthenticatedPeer? = nil) throws -> Proxy {
        try ProxyIdentity.proxy(node: node, connectionID: "conn-1", peer: peer)
    }

    @Test func kindFromEveryNodeForm() throws {
        let sidecarID = "sidecar~10.0.0.7~reviews-v1-abc.shop~shop.svc.cluster.local"
        #expect(try proxy(node(sidecarID, agent: "envoy")).kind == .sidecar)
        // GENERATOR: grpc wins over an Envoy-looking id.
        #expect(try proxy(node(sidecarID, agent: "envoy", metadata: ["GENERATOR": .init(stringValue: "grpc")])).kind == .proxylessGRPC)
        // A sidecar id from a client that is not Envoy (a grpc agent bootstrap) is proxyless.
        #expect(try proxy(node(sidecarID, agent: "gRPC Python")).kind == .proxylessGRPC)
        #expect(try proxy(node("router~10.0.0.9~ingress-1.istio-system~istio-system.svc.cluster.local", agent: "envoy")).kind == .gateway)
        #expect(try proxy(node("router~10.0.0.9~ingress-1.istio-system~istio-system.svc.cluster.local")).kind == .gateway)
        #expect(try proxy(node("my-client")).kind == .proxylessGRPC)
        #expect(try proxy(nil).kind == .proxylessGRPC)
    }

    @Test func namespaceFromMetadataThenTheIDThenDefault() throws {
        let sidecarID = "sidecar~10.0.0.7~reviews-v1-abc.shop~shop.svc.cluster.local"
        #expect(try proxy(node(sidecarID, agent: "envoy", metadata: ["NAMESPACE": .init(stringValue: "billing")])).namespace == "billing")
        #expect(try proxy(node(sidecarID, agent: "envoy")).namespace == "shop")
        #expect(try proxy(node("my-client")).namespace == "default")
        #expect(try proxy(nil).namespace == "default")
        #expect(try proxy(nil).id == "conn-1")
        #expect(try proxy(node("my-client")).id == "my-client")
    }

    @Test func labelsAddressesClusterAndLocality() throws {
        var labels = Google_Protobuf_Struct()
        labels.fields = ["app": .init(stringValue: "reviews"), "version": .init(stringValue: "v2")]
        var n = node(
            "sidecar~10.0.0.7~reviews-v2.shop~shop.svc.cluster.local", agent: "envoy",
            metadata: [
                "LABELS": .init(structValue: labels), "CLUSTER_ID": .init(stringValue: "east"),
                "INSTANCE_IPS": .init(stringValue: "10.0.0.7, fd00::7"),
            ])
        n.locality.region = "us-east1"
        n.locality.zone = "us-east1-b"
        let p = try proxy(n)
        #expect(p.labels == ["app": "reviews", "version": "v2"])
        #expect(p.instanceIPs == ["10.0.0.7", "fd00::7"])
        #expect(p.clusterID == "east")
        #expect(p.locality.description == "us-east1/us-east1-b/")
        // Without INSTANCE_IPS, the IP in the id.
        #expect(try proxy(node("sidecar~10.0.0.8~x.shop~shop.svc.cluster.local", agent: "envoy")).instanceIPs == ["10.0.0.8"])
    }

    @Test func malformedNodesAreRefusedNamingTheField() {
        let cases: [(Envoy_Config_Core_V3_Node, String)] = [
            (node("c", metadata: ["NAMESPACE": .init(stringValue: "Not_A_Label")]), "NAMESPACE"),
            (node("c", metadata: ["NAMESPACE": .init(numberValue: 3)]), "node.metadata.NAMESPACE"),
            (node("c", metadata: ["LABELS": .init(stringValue: "app=reviews")]), "node.metadata.LABELS"),
            (
                node("c", metadata: ["LABELS": .init(structValue: Google_Protobuf_Struct(fields: ["app": .init(numberValue: 1)]))]),
                "node.metadata.LABELS.app"
            ),
            (node("c", metadata: ["INSTANCE_IPS": .init(stringValue: "10.0.0.1,not-an-ip")]), "node.metadata.INSTANCE_IPS"),
            (node("sidecar~10.0.0.7~x.UPPER~UPPER.svc.cluster.local", agent: "envoy"), "fourth field"),
        ]
        for (node, field) in cases {
            #expect {
                try proxy(node)
            } throws: { error in
                guard let error = error as? ProxyIdentityError else { return false }
                return error.code == .invalidArgument && error.message.contains(field)
            }
        }
    }

    @Test func anAuthenticatedProxyIsInItsCertificatesNamespace() throws {
        let peer = AuthenticatedPeer(spiffeID: "spiffe://cluster.local/ns/a/sa/reviews", namespace: "a")
        let claimsNothing = try proxy(node("my-client"), peer: peer)
        #expect(claimsNothing.namespace == "a")
        #expect(claimsNothing.identity == peer.spiffeID)
        #expect(claimsNothing.isAuthenticated)
        #expect(try proxy(node("c", metadata: ["NAMESPACE": .init(stringValue: "a")]), peer: peer).namespace == "a")
        #expect {
            try proxy(node("sidecar~10.0.0.7~x.b~b.svc.cluster.local", agent: "envoy"), peer: peer)
        } throws: { error in
            (error as? ProxyIdentityError)?.code == .permissionDenied
        }
        #expect(!(try proxy(node("c"))).isAuthenticated)
    }
}

import Foundation
import MeshModel
import Testing

@testable import meshctl

@Suite struct EnvoyNodeIDTests {
    @Test func readsIstiosSidecarShape() throws {
        let id = try EnvoyNodeID(parsing: "sidecar~10.0.0.7~reviews-v1-5d8f.bookinfo~bookinfo.svc.cluster.local")
        #expect(id.ip == "10.0.0.7" && id.podName == "reviews-v1-5d8f" && id.namespace == "bookinfo")
        #expect(try EnvoyNodeID(parsing: "sidecar~fd00::7~a-1.b~b.svc.example.org").podName == "a-1")
        let gateway = try EnvoyNodeID(parsing: "router~10.0.0.1~gw.istio-system~istio-system.svc.cluster.local")
        #expect(gateway.isGateway && gateway.namespace == "istio-system" && gateway.podName == "gw")
    }

    @Test(arguments: [
        "", "sidecar", "proxyless~x", "ingress~10.0.0.1~gw.default~default.svc.cluster.local",
        "sidecar~10.0.0.300~app.default~default.svc.cluster.local", "sidecar~~app.default~default.svc.cluster.local",
        "sidecar~10.0.0.1~app.default~other.svc.cluster.local", "sidecar~10.0.0.1~.default~default.svc.cluster.local",
        "sidecar~10.0.0.1~app.default~default.cluster.local", "sidecar~10.0.0.1~app.Default~Default.svc.cluster.local",
        "sidecar~10.0.0.1~app.default~default.svc.cluster.local~extra",
    ])
    func refusesAnythingElse(_ text: String) {
        #expect(throws: MeshctlError.self) { try EnvoyNodeID(parsing: text) }
    }
}

@Suite struct EnvoyBootstrapTests {
    private func input(plaintext: Bool = false, host: String = "10.0.0.9") throws -> BootstrapCommand.EnvoyBootstrapInput {
        BootstrapCommand.EnvoyBootstrapInput(
            node: try EnvoyNodeID(parsing: "sidecar~10.0.0.7~reviews-v1.default~default.svc.cluster.local"),
            labels: ["app": "reviews"], clusterID: "Kubernetes", xdsHost: host, xdsPort: plaintext ? 15010 : 15013,
            plaintext: plaintext, serverName: "meshd.mesh-system.svc", sdsSocket: "/run/sds.sock")
    }

    @Test func nodeCarriesWhatMeshdReads() throws {
        let node = BootstrapCommand.envoyNode(try input())
        #expect(node["cluster"]?.stringValue == "reviews.default")
        let metadata = node["metadata"]
        #expect(metadata?["NAMESPACE"]?.stringValue == "default")
        #expect(metadata?["INSTANCE_IPS"]?.stringValue == "10.0.0.7")
        #expect(metadata?["LABELS"]?["app"]?.stringValue == "reviews")
        #expect(metadata?["CLUSTER_ID"]?.stringValue == "Kubernetes")
    }

    @Test func mutualTLSUsesTheAgentsSecretsAndPlaintextNone() throws {
        func xds(_ bootstrap: JSONValue) -> JSONValue? {
            bootstrap["static_resources"]?["clusters"]?.arrayValue?.first { $0["name"]?.stringValue == "xds-grpc" }
        }
        let tls = xds(BootstrapCommand.envoyBootstrap(try input()))?["transport_socket"]?["typed_config"]
        #expect(tls?["sni"]?.stringValue == "meshd.mesh-system.svc")
        #expect(tls?["common_tls_context"]?["tls_certificate_sds_secret_configs"]?.arrayValue?.first?["name"]?.stringValue == "default")
        #expect(tls?["common_tls_context"]?["combined_validation_context"]?["validation_context_sds_secret_config"]?["name"]?.stringValue == "ROOTCA")
        #expect(xds(BootstrapCommand.envoyBootstrap(try input(plaintext: true)))?["transport_socket"] == nil)
        #expect(xds(BootstrapCommand.envoyBootstrap(try input(host: "meshd.mesh-system.svc")))?["type"]?.stringValue == "STRICT_DNS")
    }
}

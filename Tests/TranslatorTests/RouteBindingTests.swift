import MeshModel
import MeshTesting
import PushPipeline
import Testing
import Translator

/// Each binding — the mesh, each Gateway — settles its own hosts, as in Istio.
@Suite struct RouteBindingTests {
    static func reviews(_ name: String, gateways: String?, subset: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: \(name), namespace: default}
        spec:
          hosts: [reviews]
        \(gateways.map { "  gateways: \($0)" } ?? "")
          http: [{route: [{destination: {host: reviews, subset: \(subset)}}]}]
        """
    }

    /// The older VirtualService is bound only to a gateway; the newer one, in the same namespace,
    /// to the mesh. Mesh clients follow the newer one (they used to get neither).
    @Test func meshClientsFollowTheMeshBoundVirtualService() throws {
        let push = try context([
            CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            Self.reviews("edge-only", gateways: "[istio-system/some-gateway]", subset: "v1"),
            Self.reviews("in-mesh", gateways: nil, subset: "v2"),
        ])
        let chosen = push.virtualService(for: "reviews.default.svc.cluster.local", serviceNamespace: "default", from: "default")
        #expect(chosen?.key.name == "in-mesh")
        #expect(!push.warnings.contains { $0.message.contains("already routed") })
        #expect(push.gatewayVirtualServices.map(\.key.name) == ["edge-only"])
        let simulation = try TrafficSimulation(snapshot: ProxySnapshot(proxy: Proxy(id: "client"), push: push, table: .testing))
        let result = simulation.run(SimulatedRequest(authority: "reviews.default.svc.cluster.local:9080", path: "/", method: "GET"))
        #expect(result.outcome == .cluster("outbound|9080|v2|reviews.default.svc.cluster.local", endpoints: ["127.0.0.1:9082"]))
    }

    /// Two mesh-bound VirtualServices for one host in one namespace still conflict: the older wins.
    @Test func meshBoundVirtualServicesStillConflictAmongThemselves() throws {
        let push = try context([
            CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            Self.reviews("first", gateways: "[mesh]", subset: "v1"),
            Self.reviews("second", gateways: nil, subset: "v2"),
        ])
        let chosen = push.virtualService(for: "reviews.default.svc.cluster.local", serviceNamespace: "default", from: "default")
        #expect(chosen?.key.name == "first")
        #expect(push.warnings.contains { $0.key.name == "second" && $0.message.contains("already routed") })
    }

    @Test func gatewayReferencesResolveAsIstiodResolvesThem() {
        #expect(RouteBinding.resolve("ingress", namespace: "default") == "default/ingress")
        #expect(RouteBinding.resolve("istio-system/ingress", namespace: "default") == "istio-system/ingress")
        #expect(RouteBinding.resolve("./ingress", namespace: "default") == "default/ingress")
        #expect(RouteBinding.resolve("ingress.istio-system.svc.cluster.local", namespace: "default") == "istio-system/ingress")
        #expect(RouteBinding.gateways(["istio-system/ingress"]).admits(["ingress.istio-system.svc.cluster.local"], namespace: "default"))
        #expect(!RouteBinding.gateways(["istio-system/ingress"]).admits(["ingress"], namespace: "default"))
        #expect(!RouteBinding.gateways(["istio-system/ingress"]).admits(["mesh"], namespace: "default"))
        #expect(RouteBinding.mesh.admits([], namespace: "default"))
        #expect(!RouteBinding.mesh.admits(["ingress"], namespace: "default"))
    }
}

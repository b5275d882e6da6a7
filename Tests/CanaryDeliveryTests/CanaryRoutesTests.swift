import MeshModel
import Testing

@testable import CanaryDelivery

struct CanaryRoutesTests {
    let routes = CanaryRoutes(host: CanaryFixtures.host, namespace: "default", from: "v1", to: "v2")

    @Test func onlyRoutesWhoseDestinationsAreTheTwoSubsetsAreStepped() {
        let spec = CanaryFixtures.virtualService().spec
        #expect(routes.stepped(in: spec) == ["spec.http[1]"])
        #expect(routes.currentWeight(in: spec) == 0)
    }

    @Test func aStepSetsBothWeightsAndKeepsEverythingElse() {
        let spec = CanaryFixtures.virtualService().spec
        let stepped = routes.weighted(spec, weight: 25)
        // The header-matched route to another host is the operator's.
        #expect(stepped["http"]?[0] == spec["http"]?[0])
        #expect(stepped["http"]?[1]?["timeout"] == .string("5s"))
        let destinations = stepped["http"]?[1]?["route"]
        #expect(destinations?[0]?["destination"]?["subset"] == .string("v1"))
        #expect(destinations?[0]?["weight"] == .number(75))
        // The missing subset is a copy of the other's destination, its port included.
        #expect(destinations?[1]?["destination"]?["subset"] == .string("v2"))
        #expect(destinations?[1]?["destination"]?["port"]?["number"] == .number(9080))
        #expect(destinations?[1]?["weight"] == .number(25))
        #expect(routes.currentWeight(in: stepped) == 25)
        #expect(routes.currentWeight(in: routes.weighted(stepped, weight: 100)) == 100)
    }

    @Test func anotherHostOrSubsetIsNotStepped() {
        let other = CanaryRoutes(host: "details.default.svc.cluster.local", namespace: "default", from: "v1", to: "v2")
        #expect(other.stepped(in: CanaryFixtures.virtualService().spec).isEmpty)
        let v3 = CanaryRoutes(host: CanaryFixtures.host, namespace: "default", from: "v3", to: "v2")
        #expect(v3.stepped(in: CanaryFixtures.virtualService().spec).isEmpty)
    }

    @Test func theDigestFollowsContent() {
        let spec = CanaryFixtures.virtualService().spec
        #expect(CanaryRoutes.digest(spec) == CanaryRoutes.digest(spec))
        #expect(CanaryRoutes.digest(spec) != CanaryRoutes.digest(routes.weighted(spec, weight: 10)))
        #expect(CanaryRoutes.digest(spec).count == 16)
    }
}

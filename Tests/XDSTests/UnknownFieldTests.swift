import MeshModel
import MeshTesting
import Testing
import Translator
import XDSCore

@testable import PushPipeline
@testable import XDS

@Suite struct UnknownFieldTests {
    /// A resource stored before meshd refused unknown fields keeps being pushed, the field
    /// ignored, and the index reports it by path.
    @Test func aStoredResourceWithAnUnknownFieldIsPushedAndReported() async throws {
        let store = InMemoryConfigStore()
        let legacy = CanaryFixture.virtualService([("v1", 50), ("v2", 50)])
            .replacingOccurrences(of: "weight: 50}", with: "weight: 50, weigth: 7}")
        _ = try await store.apply(CanaryFixture.resources(CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]), legacy))
        var index = ConfigIndex()
        index.load(try await store.snapshot())
        let push = index.context()
        #expect(push.invalid.isEmpty)
        let snapshot = ProxySnapshot(proxy: Proxy(id: "p"), push: push, table: .testing)
        let route = try #require(snapshot.of(TypeURL.route)["reviews.default.svc.cluster.local:9080"])
        #expect(route.dependencies.contains("outbound|9080|v2|reviews.default.svc.cluster.local"))
        let warnings = index.unknownFieldWarnings
        #expect(warnings.map(\.field) == ["spec.http[0].route[0].weigth", "spec.http[0].route[1].weigth"])
        #expect(warnings.allSatisfy { $0.key.kind == .virtualService && $0.message.contains("unknown field \"weigth\"") })
    }
}

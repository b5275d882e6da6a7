import MeshModel
import MeshTesting
import Testing
import Translator
import XDSCore

@testable import PushPipeline
@testable import XDS

@Suite struct UnhonouredFieldTests {
    /// Stored fields a kind of proxy does not honour are listed per kind, by path, for
    /// `/debug/push_status` and `meshd_config_unhonoured_fields{proxy_kind}`.
    @Test func storedFieldsGRPCCannotHonourAreListedPerKind() async throws {
        let store = InMemoryConfigStore()
        let rule =
            CanaryFixture.destinationRule(subsets: ["v1"])
            + "\n  trafficPolicy: {connectionPool: {http: {http2MaxRequests: 1}, tcp: {maxConnections: 2}}}"
        _ = try await store.apply(CanaryFixture.resources(CanaryFixture.registry, rule))
        var index = ConfigIndex()
        index.load(try await store.snapshot())
        let listed = index.unhonouredFieldWarnings
        #expect(listed.map(\.kind) == [.proxylessGRPC])
        #expect(listed.map(\.warning.field) == ["spec.trafficPolicy.connectionPool.tcp.maxConnections"])
        #expect(listed.first?.warning.message == "not honoured by proxyless gRPC clients")
    }
}

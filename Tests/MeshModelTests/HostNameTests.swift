import Testing

@testable import MeshModel

@Suite struct HostNameTests {
    @Test(arguments: [
        ("reviews", "default", "reviews.default.svc.cluster.local"),
        ("reviews", "prod", "reviews.prod.svc.cluster.local"),
        ("reviews.prod", "default", "reviews.prod"),
        ("api.example.com", "default", "api.example.com"),
        ("*", "default", "*"),
    ])
    func shortNamesExpandInTheirNamespace(host: String, namespace: String, expected: String) {
        #expect(HostName.resolve(host, namespace: namespace) == expected)
    }

    @Test func kindsAreFoundByAnyName() {
        #expect(ConfigKind.named("vs") == .virtualService)
        #expect(ConfigKind.named("VirtualServices") == .virtualService)
        #expect(ConfigKind.named("serviceentry") == .serviceEntry)
        #expect(ConfigKind.named("destinationrules.networking.istio.io") == .destinationRule)
        #expect(ConfigKind.named("Gateway") == .gateway)
        #expect(ConfigKind.named("EnvoyFilter") == nil)
        #expect(
            ConfigKey(kind: .virtualService, namespace: "default", name: "reviews").description
                == "VirtualService default/reviews")
    }
}

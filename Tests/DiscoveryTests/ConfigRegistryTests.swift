import MeshModel
import Testing

@testable import Discovery

@Suite struct ConfigRegistryTests {
    let port = ServicePort(number: 9080, protocol: "GRPC", name: "grpc", targetPort: 8080)

    func workload(
        _ name: String, namespace: String = "default", labels: [String: String], ports: [String: UInt32] = [:],
        healthy: Bool = true
    ) -> ConfigRegistry.Workload {
        ConfigRegistry.Workload(
            key: ConfigKey(kind: .workloadEntry, namespace: namespace, name: name),
            spec: WorkloadEntry(address: "10.0.0.\(name.count)", ports: ports, labels: labels), healthy: healthy)
    }

    func serviceEntry(_ name: String, selector: [String: String]) -> (key: ConfigKey, spec: ServiceEntry) {
        (
            ConfigKey(kind: .serviceEntry, namespace: "default", name: name),
            ServiceEntry(hosts: [name], ports: [port], resolution: "STATIC", workloadSelector: selector)
        )
    }

    @Test func selectorNeedsEveryLabelAndStaysInItsNamespace() {
        let registry = ConfigRegistry.build(
            serviceEntries: [serviceEntry("reviews", selector: ["app": "reviews", "tier": "backend"])],
            workloads: [
                workload("both", labels: ["app": "reviews", "tier": "backend", "version": "v1"]),
                workload("app-only", labels: ["app": "reviews"]),
                workload("elsewhere", namespace: "other", labels: ["app": "reviews", "tier": "backend"]),
            ])
        let host = "reviews.default.svc.cluster.local"
        let endpoints = registry.endpoints(host: host, port: 9080)
        #expect(endpoints.map(\.source.name) == ["both"])
        // No per-port override: the service port's targetPort.
        #expect(endpoints.first?.port == 8080)
        #expect(registry.endpoints(host: host, port: 9080, selector: ["version": "v2"]).isEmpty)
    }

    @Test func workloadPortByNameWinsAndHealthIsCarried() {
        let registry = ConfigRegistry.build(
            serviceEntries: [serviceEntry("reviews", selector: ["app": "reviews"])],
            workloads: [workload("vm", labels: ["app": "reviews"], ports: ["grpc": 9999], healthy: false)])
        let endpoint = registry.endpoints(host: "reviews.default.svc.cluster.local", port: 9080).first
        #expect(endpoint?.port == 9999)
        #expect(endpoint?.healthy == false)
    }

    @Test func changesBecomeTypedEvents() {
        let before = ConfigRegistry.build(
            serviceEntries: [serviceEntry("reviews", selector: ["app": "reviews"])],
            workloads: [workload("a", labels: ["app": "reviews"])])
        let after = ConfigRegistry.build(
            serviceEntries: [
                serviceEntry("reviews", selector: ["app": "reviews"]),
                serviceEntry("ratings", selector: ["app": "ratings"]),
            ],
            workloads: [workload("a", labels: ["app": "reviews"]), workload("bb", labels: ["app": "reviews"])])
        #expect(
            after.events(since: before) == [
                .serviceAdded("ratings.default.svc.cluster.local"),
                .endpointsChanged("reviews.default.svc.cluster.local"),
            ])
        #expect(
            before.events(since: after) == [
                .serviceRemoved("ratings.default.svc.cluster.local"),
                .endpointsChanged("reviews.default.svc.cluster.local"),
            ])
    }
}

@Suite struct AliasResolutionTests {
    static func service(_ host: String) -> Service {
        Service(host: host, namespace: "default", ports: [], source: RegistrySource(kind: .service, namespace: "default", name: host))
    }

    @Test func chainsEndAtAConcreteServiceAndLoopsOrDanglingAliasesAreDropped() {
        let services = ["db.default.svc.cluster.local": Self.service("db.default.svc.cluster.local")]
        let aliases = ConfigRegistry.resolveAliases(
            [
                "a.default.svc.cluster.local": "b.default.svc.cluster.local",
                "b.default.svc.cluster.local": "DB.default.svc.cluster.local.",
                "x.default.svc.cluster.local": "y.default.svc.cluster.local",
                "y.default.svc.cluster.local": "x.default.svc.cluster.local",
                "ext.default.svc.cluster.local": "api.example.com",
                // An alias naming a host a service has is not an alias (the service is).
                "db.default.svc.cluster.local": "a.default.svc.cluster.local",
            ], services: services)
        #expect(aliases == ["db.default.svc.cluster.local": ["a.default.svc.cluster.local", "b.default.svc.cluster.local"]])
    }
}

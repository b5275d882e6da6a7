import Foundation
import MeshModel
import MeshTesting
import Testing
import Translator

/// The encoded bytes every kind of proxy receives in three meshes, pinned in golden files
/// (`Tests/Shared/golden/`): a change to the generators' structure must not change one byte a
/// proxy gets. Each line is `TYPE NAME VERSION BASE64`, the resource exactly as it goes into a
/// DiscoveryResponse. Set MESHD_UPDATE_GOLDEN=1 to rewrite the files after a deliberate change
/// (and say in the commit which bytes changed and why).
@Suite struct GoldenSnapshotTests {
    /// One mesh and the proxies whose resources are pinned in it.
    struct Scenario: Sendable, CustomStringConvertible {
        var name: String
        var documents: [String]
        var proxies: [(file: String, proxy: Proxy)]
        var description: String { name }
    }

    static let security = """
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: reviews, namespace: default}
        spec:
          selector: {matchLabels: {app: reviews}}
          mtls: {mode: STRICT}
          portLevelMtls: {"50052": {mode: DISABLE}}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: reviews-readers, namespace: default}
        spec:
          selector: {matchLabels: {app: reviews}}
          rules:
          - from: [{source: {principals: [cluster.local/ns/default/sa/productpage]}}]
            to: [{operation: {paths: [/reviews.Reviews/Get*], methods: [POST]}}]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: deny-ops, namespace: default}
        spec:
          action: DENY
          rules:
          - from: [{source: {namespaces: [ops]}}]
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: ratings, namespace: prod}
        spec:
          host: ratings.prod.svc.cluster.local
          trafficPolicy:
            tls: {mode: ISTIO_MUTUAL}
            loadBalancer: {consistentHash: {httpHeaderName: x-user}}
        """

    static let tcpTLS = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: mysql, namespace: default}
        spec:
          hosts: [mysql.default.svc.cluster.local]
          tcp:
          - match: [{port: 3306, sourceLabels: {app: productpage}}]
            route: [{destination: {host: legacy.default.svc.cluster.local, port: {number: 5432}}}]
          - route: [{destination: {host: mysql.default.svc.cluster.local}}]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: external-api, namespace: default}
        spec:
          hosts: [api.example.com]
          tls:
          - match: [{port: 443, sniHosts: [api.example.com]}]
            route: [{destination: {host: api.example.com}}]
        """

    static func server(_ id: String, labels: [String: String], addresses: [String]) -> Proxy {
        var proxy = Proxy(id: id, namespace: "default", labels: labels)
        proxy.inbound = Set(addresses.compactMap { InboundAddress(listenerName: InboundAddress.listenerNamePrefix + $0) })
        return proxy
    }

    static let scenarios: [Scenario] = [
        Scenario(
            name: "canary",
            documents: [
                CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
                CanaryFixture.virtualService([("v1", 50), ("v2", 50)]),
            ],
            proxies: [
                ("canary-proxyless-client", Proxy(id: "client-1")),
                ("canary-proxyless-server", server("reviews-v1", labels: ["app": "reviews", "version": "v1"], addresses: ["127.0.0.1:9081"])),
                (
                    "canary-envoy-sidecar",
                    Proxy(
                        id: "sidecar~127.0.0.9~productpage-1.default~default.svc.cluster.local", kind: .sidecar,
                        labels: ["app": "productpage"], instanceIPs: ["127.0.0.9"])
                ),
            ]),
        Scenario(
            name: "tcp-tls",
            documents: [CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]), EnvoyFixture.mesh, tcpTLS],
            proxies: [
                ("tcp-tls-envoy-sidecar", EnvoyFixture.proxy()),
                (
                    "tcp-tls-envoy-sidecar-labelled",
                    Proxy(
                        id: EnvoyFixture.nodeID, kind: .sidecar, labels: ["app": "productpage"],
                        instanceIPs: ["10.0.0.5"])
                ),
                ("tcp-tls-proxyless-client", Proxy(id: "client-2")),
            ]),
        Scenario(
            name: "security",
            documents: [CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]), EnvoyFixture.mesh, security],
            proxies: [
                (
                    "security-proxyless-server",
                    server(
                        "reviews-v2", labels: ["app": "reviews", "version": "v2"],
                        addresses: ["127.0.0.1:9082", "[::]:50052"])
                ),
                ("security-proxyless-client", Proxy(id: "client-3", labels: ["app": "productpage"])),
                ("security-envoy-sidecar", EnvoyFixture.proxy()),
            ]),
    ]

    /// The golden text of `proxy`'s resources at `push`: every type, every resource, by type then name.
    static func golden(_ proxy: Proxy, _ push: PushContext) -> String {
        var lines: [String] = []
        let byType = GoldenGeneration.resources(for: proxy, in: push)
        for typeURL in [TypeURL.cluster, TypeURL.endpoint, TypeURL.listener, TypeURL.route] {
            for resource in (byType[typeURL] ?? []).sorted(by: { $0.name < $1.name }) {
                let type = typeURL.split(separator: ".").last.map(String.init) ?? typeURL
                lines.append("\(type) \(resource.name) \(resource.version) \(resource.payload.value.base64EncodedString())")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Shared/golden")

    @Test(arguments: scenarios)
    func resourcesAreByteIdenticalToTheGoldenFiles(_ scenario: Scenario) throws {
        let push = try context(scenario.documents)
        for (file, proxy) in scenario.proxies {
            let text = Self.golden(proxy, push)
            #expect(text.split(separator: "\n").count > 3, "\(file): too few resources to pin anything")
            let url = Self.directory.appendingPathComponent(file + ".txt")
            if ProcessInfo.processInfo.environment["MESHD_UPDATE_GOLDEN"] == "1" {
                try FileManager.default.createDirectory(at: Self.directory, withIntermediateDirectories: true)
                try Data(text.utf8).write(to: url)
                continue
            }
            let expected = try String(contentsOf: url, encoding: .utf8)
            let got = text.split(separator: "\n")
            let want = expected.split(separator: "\n")
            // Name the first differing resource, not the whole file.
            let firstDifference = zip(got, want).first { $0 != $1 }.map { "got \($0.0.prefix(160))… want \($0.1.prefix(160))…" }
            #expect(text == expected, "\(file): \(firstDifference ?? "\(got.count) resources, golden has \(want.count)")")
        }
    }
}

/// How the golden test asks the translator for a proxy's resources: the one line that follows
/// the translator's entry point when it moves; the golden files never do.
enum GoldenGeneration {
    static func resources(for proxy: Proxy, in push: PushContext) -> [String: [XDSResource]] {
        var byType: [String: [XDSResource]] = [:]
        for generator in GeneratorTable.testing.generators(for: proxy.kind) {
            byType[generator.typeURL] = generator.generate(for: ProxyView(key: push.viewKey(for: proxy), push: push), in: push)
        }
        return byType
    }
}

import MeshModel
import Testing

@testable import Translator

/// A ServiceEntry `name` in `namespace` for `host` (default: the Kubernetes name of `name`).
func serviceEntry(
    _ name: String, _ namespace: String, host: String? = nil, ports: [UInt32] = [9080],
    exportTo: String? = nil
) -> String {
    let portList = ports.map { "{number: \($0), name: p\($0), protocol: GRPC}" }.joined(separator: ", ")
    return """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
          hosts: [\(host ?? "\(name).\(namespace).svc.cluster.local")]
          ports: [\(portList)]
        \(exportTo.map { "  exportTo: \($0)" } ?? "")
        """
}

/// A Sidecar with `spec` (YAML lines indented by two).
func sidecar(_ name: String, _ namespace: String, _ spec: String) -> String {
    """
    apiVersion: networking.istio.io/v1
    kind: Sidecar
    metadata: {name: \(name), namespace: \(namespace)}
    spec:
    \(spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
    """
}

/// A DestinationRule `name` in `namespace` for `host` with one subset named `subset`.
func destinationRule(_ name: String, _ namespace: String, host: String, subset: String, exportTo: String? = nil) -> String {
    """
    apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata: {name: \(name), namespace: \(namespace)}
    spec:
      host: \(host)
      subsets: [{name: \(subset), labels: {version: \(subset)}}]
    \(exportTo.map { "  exportTo: \($0)" } ?? "")
    """
}

/// Builds a context from YAML documents, each created one revision after the previous.
func context(_ texts: [String], settings: MeshSettings = MeshSettings()) throws -> PushContext {
    var inputs: [PushContextBuilder.Input] = []
    for text in texts {
        for resource in try ConfigDocumentParser.parse(text) {
            inputs.append(.init(key: resource.key, createdRevision: Int64(inputs.count + 1), config: try ConfigValidator.validate(resource)))
        }
    }
    return PushContextBuilder.build(revision: 1, inputs: inputs, settings: settings)
}

/// The hosts a proxy in `namespace` with `labels` sees.
func visibleHosts(_ push: PushContext, namespace: String, labels: [String: String] = [:]) -> [String] {
    let proxy = Proxy(id: "p", namespace: namespace, labels: labels)
    return ProxyView(key: push.viewKey(for: proxy), push: push).services.map(\.host)
}

let reviewsA = "reviews.a.svc.cluster.local"
let ratingsB = "ratings.b.svc.cluster.local"

@Suite struct SidecarEgressTests {
    /// reviews and www.example.org in `a`; ratings and api.example.com in `b`.
    static let mesh = [
        serviceEntry("reviews", "a"), serviceEntry("www", "a", host: "www.example.org"),
        serviceEntry("ratings", "b"), serviceEntry("api", "b", host: "api.example.com"),
    ]

    static let cases: [(hosts: [String], visible: [String])] = [
        (["./*"], [reviewsA, "www.example.org"]),
        (["b/*"], ["api.example.com", ratingsB]),
        (["*/*"], ["api.example.com", ratingsB, reviewsA, "www.example.org"]),
        (["*/api.example.com"], ["api.example.com"]),
        (["*/*.example.com"], ["api.example.com"]),
        (["b/*.example.com"], ["api.example.com"]),
        (["a/*.example.com"], []),
        (["./reviews.a.svc.cluster.local"], [reviewsA]),
        (["b/reviews.a.svc.cluster.local"], []),
        (["a/reviews.a.svc.cluster.local", "b/ratings.b.svc.cluster.local"], [ratingsB, reviewsA]),
        (["*/*", "~/api.example.com"], [ratingsB, reviewsA, "www.example.org"]),
        (["*/*", "~b/*"], [reviewsA, "www.example.org"]),
        (["~/*"], []),
    ]

    @Test(arguments: cases)
    func eachHostFormImportsWhatIstioImports(_ hosts: [String], _ visible: [String]) throws {
        let list = hosts.map { "\"\($0)\"" }.joined(separator: ", ")
        let push = try context(Self.mesh + [sidecar("default", "a", "egress:\n- hosts: [\(list)]")])
        #expect(visibleHosts(push, namespace: "a") == visible)
    }

    @Test func aPortedListenerAdmitsOnlyItsPortAndListenersUnite() throws {
        let mesh = [serviceEntry("reviews", "a", ports: [9080, 9090]), serviceEntry("ratings", "b", ports: [9080, 9090])]
        let ported = try context(mesh + [sidecar("default", "a", "egress:\n- port: {number: 9080}\n  hosts: [\"*/*\"]")])
        let view = ProxyView(key: ported.viewKey(for: Proxy(id: "p", namespace: "a")), push: ported)
        #expect(view.services.map { $0.ports.map(\.number) } == [[9080], [9080]])

        let united = try context(mesh + [sidecar("default", "a", "egress:\n- port: {number: 9080}\n  hosts: [\"*/*\"]\n- hosts: [\"./*\"]")])
        let both = ProxyView(key: united.viewKey(for: Proxy(id: "p", namespace: "a")), push: united)
        #expect(both.service(reviewsA)?.ports.map(\.number) == [9080, 9090])
        #expect(both.service(ratingsB)?.ports.map(\.number) == [9080])
    }

    @Test func outboundTrafficPolicyIsKeptInTheView() throws {
        let push = try context(Self.mesh + [sidecar("default", "a", "outboundTrafficPolicy: {mode: REGISTRY_ONLY}")])
        let view = ProxyView(key: push.viewKey(for: Proxy(id: "p", namespace: "a")), push: push)
        #expect(view.outboundTrafficPolicy == .registryOnly)
        #expect(view.services.count == 4, "no egress imports everything")
    }
}

@Suite struct SidecarPrecedenceTests {
    static let mesh = [serviceEntry("reviews", "a"), serviceEntry("ratings", "b"), serviceEntry("details", "c")]
    static let levels = [
        sidecar("mesh", "istio-system", "egress:\n- hosts: [\"./*\"]"),
        sidecar("default", "a", "egress:\n- hosts: [\"b/*\"]"),
        sidecar("x-only", "a", "workloadSelector: {labels: {app: x}}\negress:\n- hosts: [\"c/*\"]"),
    ]

    @Test func workloadBeatsNamespaceBeatsRoot() throws {
        let push = try context(Self.mesh + Self.levels)
        #expect(visibleHosts(push, namespace: "a", labels: ["app": "x", "version": "v1"]) == ["details.c.svc.cluster.local"])
        #expect(visibleHosts(push, namespace: "a", labels: ["app": "y"]) == [ratingsB])
        // The root default applies with "." meaning the proxy's own namespace.
        #expect(visibleHosts(push, namespace: "c") == ["details.c.svc.cluster.local"])
        #expect(visibleHosts(push, namespace: "b") == [ratingsB])
        #expect(push.viewKey(for: Proxy(id: "p", namespace: "c")).sidecar?.name == "mesh")
    }

    @Test func withoutAnySidecarEverythingIsVisible() throws {
        let push = try context(Self.mesh)
        #expect(visibleHosts(push, namespace: "z").count == 3)
        #expect(push.viewKey(for: Proxy(id: "p", namespace: "z")).sidecar == nil)
    }

    @Test func theRootNamespaceIsASetting() throws {
        let push = try context(
            Self.mesh + [sidecar("mesh", "mesh-root", "egress:\n- hosts: [\"./*\"]")],
            settings: MeshSettings(rootNamespace: "mesh-root"))
        #expect(visibleHosts(push, namespace: "b") == [ratingsB])
        let ignored = try context(Self.mesh + [sidecar("mesh", "mesh-root", "egress:\n- hosts: [\"./*\"]")])
        #expect(visibleHosts(ignored, namespace: "b").count == 3)
    }

    @Test func theOldestOfSeveralCandidatesWinsAndTheOthersAreWarnedAbout() throws {
        let push = try context(
            Self.mesh + [
                sidecar("first", "a", "egress:\n- hosts: [\"b/*\"]"),
                sidecar("second", "a", "egress:\n- hosts: [\"c/*\"]"),
                sidecar("sel-1", "a", "workloadSelector: {labels: {app: x}}\negress:\n- hosts: [\"./*\"]"),
                sidecar("sel-2", "a", "workloadSelector: {labels: {app: x, v: \"2\"}}\negress:\n- hosts: [\"c/*\"]"),
            ])
        #expect(visibleHosts(push, namespace: "a") == [ratingsB])
        #expect(visibleHosts(push, namespace: "a", labels: ["app": "x", "v": "2"]) == [reviewsA])
        let warned = push.warnings.filter { $0.field == "spec.workloadSelector" }.map(\.key.name)
        #expect(warned == ["second", "sel-2"])
    }
}

@Suite struct ExportToTests {
    static let cases: [(exportTo: String, visibleFrom: [String])] = [
        ("[\"*\"]", ["a", "b", "c"]),
        ("[\".\"]", ["a"]),
        ("[b]", ["b"]),
        ("[\".\", c]", ["a", "c"]),
        ("[\"~\"]", []),
        ("[]", ["a", "b", "c"]),
    ]

    @Test(arguments: cases)
    func aServiceEntryIsVisibleOnlyWhereItIsExported(_ exportTo: String, _ visibleFrom: [String]) throws {
        let push = try context([serviceEntry("reviews", "a", exportTo: exportTo)])
        let seen = ["a", "b", "c"].filter { !visibleHosts(push, namespace: $0).isEmpty }
        #expect(seen == visibleFrom)
    }

    @Test func aRuleNotExportedToTheProxysNamespaceIsSkipped() throws {
        let push = try context([
            serviceEntry("reviews", "a"),
            destinationRule("private", "a", host: reviewsA, subset: "v1", exportTo: "[\".\"]"),
        ])
        #expect(push.destinationRule(for: reviewsA, serviceNamespace: "a", from: "a")?.key.name == "private")
        #expect(push.destinationRule(for: reviewsA, serviceNamespace: "a", from: "b") == nil)
    }
}

@Suite struct NamespaceLookupTests {
    static let rules = [
        serviceEntry("ratings", "b"),
        destinationRule("in-proxy-ns", "a", host: ratingsB, subset: "a"),
        destinationRule("in-service-ns", "b", host: ratingsB, subset: "b"),
        destinationRule("in-root", "istio-system", host: ratingsB, subset: "root"),
        destinationRule("elsewhere", "c", host: ratingsB, subset: "c"),
    ]

    @Test func proxyNamespaceThenServiceNamespaceThenRoot() throws {
        let push = try context(Self.rules)
        #expect(push.destinationRule(for: ratingsB, serviceNamespace: "b", from: "a")?.key.name == "in-proxy-ns")
        #expect(push.destinationRule(for: ratingsB, serviceNamespace: "b", from: "d")?.key.name == "in-service-ns")
        #expect(push.destinationRule(for: ratingsB, serviceNamespace: "b", from: "c")?.key.name == "elsewhere")
        let withoutService = try context(Self.rules.filter { !$0.contains("in-service-ns") })
        #expect(withoutService.destinationRule(for: ratingsB, serviceNamespace: "b", from: "d")?.key.name == "in-root")
        let onlyElsewhere = try context([Self.rules[0], Self.rules[4]])
        #expect(onlyElsewhere.destinationRule(for: ratingsB, serviceNamespace: "b", from: "d") == nil)
    }

    @Test func theViewUsesTheChosenRulesSubsets() throws {
        let push = try context(Self.rules)
        let view = ProxyView(key: push.viewKey(for: Proxy(id: "p", namespace: "d")), push: push)
        let clusters = GeneratorTable.testing.resources(TypeURL.cluster, for: view, in: push).map(\.name)
        #expect(clusters == ["outbound|9080|b|\(ratingsB)", "outbound|9080||\(ratingsB)"])
    }

    @Test func aVirtualServiceFromAnyExportingNamespaceIsTheLastResort() throws {
        let vs = { (name: String, namespace: String, exportTo: String) in
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: \(name), namespace: \(namespace)}
            spec:
              hosts: [\(ratingsB)]
              exportTo: \(exportTo)
              http: [{route: [{destination: {host: \(ratingsB)}}]}]
            """
        }
        let push = try context([serviceEntry("ratings", "b"), vs("ops", "c", "[\"*\"]"), vs("own", "d", "[\".\"]")])
        #expect(push.virtualService(for: ratingsB, serviceNamespace: "b", from: "a")?.key.name == "ops")
        #expect(push.virtualService(for: ratingsB, serviceNamespace: "b", from: "d")?.key.name == "own")
        let hidden = try context([serviceEntry("ratings", "b"), vs("ops", "c", "[\".\"]")])
        #expect(hidden.virtualService(for: ratingsB, serviceNamespace: "b", from: "a") == nil)
    }
}

import MeshModel
import MeshTesting
import PushPipeline
import Testing
import Translator

/// The Gateway API's mesh conformance scenarios (v1.6.1, `conformance/tests/mesh`), one test
/// each, named after the upstream test and asserting what it asserts, through the traffic
/// simulation of an Envoy sidecar in `gateway-conformance-mesh` (the upstream client, echo-v1's
/// pod). The manifests are the upstream ones; the echo Services are ServiceEntries with the
/// base manifests' ports (`http` 80 → 8080, `http-alt` 8080, `grpc` 7070). Each also holds the
/// route's status to `Accepted` and `ResolvedRefs`.
///
/// Not claimed, as istiod does not claim it: MeshFrontendHostname (`MeshClusterIPMatching`:
/// sidecars choose routes by the Host header, not the destination address).
@Suite struct GatewayMeshConformanceTests {
    static let mesh = "gateway-conformance-mesh"
    static let consumer = "gateway-conformance-mesh-consumer"

    static let services =
        ["echo": ("10.96.1.10", [String: String]()), "echo-v1": ("10.96.1.11", ["version": "v1"]), "echo-v2": ("10.96.1.12", ["version": "v2"])]
        .map { name, value in
            let (address, labels) = value
            let selector = (["app": "echo"].merging(labels) { $1 }).map { "\($0): \($1)" }.sorted().joined(separator: ", ")
            return """
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: \(name), namespace: \(mesh)}
                spec:
                  hosts: [\(name).\(mesh).svc.cluster.local]
                  addresses: [\(address)]
                  ports:
                  - {number: 80, name: http, protocol: HTTP, targetPort: 8080}
                  - {number: 8080, name: http-alt, protocol: HTTP}
                  - {number: 7070, name: grpc, protocol: GRPC}
                  resolution: STATIC
                  workloadSelector: {labels: {\(selector)}}
                """
        }.sorted()
        + [
            """
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata: {name: echo-v1, namespace: \(mesh)}
            spec: {address: 10.1.0.1, labels: {app: echo, version: v1}}
            ---
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata: {name: echo-v2, namespace: \(mesh)}
            spec: {address: 10.1.0.2, labels: {app: echo, version: v2}}
            """
        ]

    /// An HTTPRoute (or GRPCRoute) in `namespace` attached to Service `parent`.
    static func route(
        _ name: String, kind: String = "HTTPRoute", namespace: String = mesh, parent: String = "echo", port: Int? = 80,
        parentNamespace: String? = nil, rules: String
    ) -> String {
        let portText = port.map { ", port: \($0)" } ?? ""
        let namespaceText = parentNamespace.map { ", namespace: \($0)" } ?? ""
        return """
            apiVersion: gateway.networking.k8s.io/v1
            kind: \(kind)
            metadata: {name: \(name), namespace: \(namespace)}
            spec:
              parentRefs: [{group: "", kind: Service, name: \(parent)\(portText)\(namespaceText)}]
              rules:
            \(rules)
            """
    }

    struct Mesh {
        var push: PushContext
        var simulation: TrafficSimulation

        /// A request from the client's sidecar to `host` (a name of one of the echo Services,
        /// optionally with a port) as the upstream client sends it.
        func get(_ target: String, path: String = "/", headers: [String: String] = [:]) -> SimulationResult {
            let parts = target.split(separator: ":")
            let name = String(parts[0]).components(separatedBy: ".")[0]
            let port = parts.count > 1 ? UInt32(parts[1]) ?? 80 : 80
            let address = GatewayMeshConformanceTests.address(of: name)
            let authority = port == 80 ? String(parts[0]) : target
            return simulation.connect(.http(authority, address: address, port: port, path: path, headers: headers)).result
        }

        /// Every route's parents are Accepted with their references resolved.
        func expectAccepted(sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(!push.routeStatuses.isEmpty, sourceLocation: sourceLocation)
            for (key, status) in push.routeStatuses {
                for parent in status.parents {
                    #expect(parent.condition("Accepted")?.isTrue == true, "\(key)", sourceLocation: sourceLocation)
                    #expect(parent.condition("ResolvedRefs")?.isTrue == true, "\(key)", sourceLocation: sourceLocation)
                }
            }
        }
    }

    static func address(of service: String) -> String {
        switch service {
        case "echo-v1": "10.96.1.11"
        case "echo-v2": "10.96.1.12"
        default: "10.96.1.10"
        }
    }

    static func mesh(_ config: String..., client namespace: String = mesh) throws -> Mesh {
        let push = try context(services + config)
        let proxy = Proxy(
            id: "sidecar~10.1.0.1~echo-v1-5d9f-abcde.\(namespace)~\(namespace).svc.cluster.local", kind: .sidecar, namespace: namespace,
            instanceIPs: ["10.1.0.1"])
        return Mesh(push: push, simulation: try TrafficSimulation(snapshot: ProxySnapshot(proxy: proxy, push: push, table: .testing)))
    }

    static func cluster(_ service: String, port: Int = 8080) -> String { "outbound|\(port)||\(service).\(mesh).svc.cluster.local" }

    /// The echo backend a result reached (`echo-v1`), or nil when it was not forwarded to one.
    static func backend(_ result: SimulationResult) -> String? {
        guard case .cluster(let name, _) = result.outcome else { return nil }
        return name.split(separator: "|").last.map { String($0.split(separator: ".")[0]) }
    }

    // MARK: - The scenarios

    @Test("MeshBasic") func meshBasic() throws {
        let mesh = try Self.mesh()
        #expect(Self.backend(mesh.get("echo")) == "echo")
    }

    @Test("MeshPorts") func meshPorts() throws {
        let mesh = try Self.mesh(
            Self.route(
                "mesh-split-v1", parent: "echo-v1", port: 80,
                rules: """
                      - filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-Header-Set, value: v1}]}}]
                        backendRefs: [{name: echo-v1, port: 80}]
                    """),
            Self.route(
                "mesh-split-v2", parent: "echo-v2", port: nil,
                rules: """
                      - filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-Header-Set, value: v2}]}}]
                        backendRefs: [{name: echo-v2, port: 80}]
                    """))
        mesh.expectAccepted()
        let v1 = mesh.get("echo-v1")
        #expect(Self.backend(v1) == "echo-v1" && v1.responseHeaders?["x-header-set"] == "v1")
        let v1Alt = mesh.get("echo-v1:8080")
        #expect(Self.backend(v1Alt) == "echo-v1" && v1Alt.responseHeaders?["x-header-set"] == nil)
        for target in ["echo-v2", "echo-v2:8080"] {
            let v2 = mesh.get(target)
            #expect(Self.backend(v2) == "echo-v2" && v2.responseHeaders?["x-header-set"] == "v2", "\(target)")
        }
    }

    @Test("MeshTrafficSplit") func meshTrafficSplit() throws {
        let mesh = try Self.mesh(
            Self.route(
                "mesh-split", port: nil,
                rules: """
                      - matches: [{path: {type: Exact, value: /v1}}]
                        backendRefs: [{name: echo-v1, port: 80}]
                      - matches: [{path: {type: Exact, value: /v2}}]
                        backendRefs: [{name: echo-v2, port: 80}]
                    """))
        mesh.expectAccepted()
        #expect(Self.backend(mesh.get("echo", path: "/v1")) == "echo-v1")
        #expect(Self.backend(mesh.get("echo", path: "/v2")) == "echo-v2")
    }

    @Test("MeshFrontend") func meshFrontend() throws {
        let mesh = try Self.mesh(
            Self.route(
                "mesh-split-v1", parent: "echo-v2", port: nil,
                rules: """
                      - filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-Header-Set, value: set}]}}]
                        backendRefs: [{name: echo-v2, port: 80}]
                    """))
        mesh.expectAccepted()
        let service = mesh.get("echo-v2")
        #expect(Self.backend(service) == "echo-v2" && service.responseHeaders?["x-header-set"] == "set")
        // Straight to the pod's address: no Service, so no route of it.
        let pod = mesh.simulation.connect(.http("10.1.0.2:8080", address: "10.1.0.2", port: 8080)).result
        #expect(pod.outcome == .cluster("PassthroughCluster", endpoints: ["10.1.0.2:8080"]))
        #expect(pod.responseHeaders?["x-header-set"] == nil)
    }

    @Test("MeshConsumerRoute") func meshConsumerRoute() throws {
        let route = Self.route(
            "mesh-echo-add-header", namespace: Self.consumer, parent: "echo-v1", port: nil, parentNamespace: Self.mesh,
            rules: """
                  - filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-Header-Set, value: set}]}}]
                    backendRefs: [{name: echo-v1, namespace: \(Self.mesh), port: 80}]
                """)
        let consumer = try Self.mesh(route, client: Self.consumer)
        consumer.expectAccepted()
        let there = consumer.get("echo-v1.\(Self.mesh)")
        #expect(Self.backend(there) == "echo-v1" && there.responseHeaders?["x-header-set"] == "set")
        let producer = try Self.mesh(route)
        let here = producer.get("echo-v1.\(Self.mesh)")
        #expect(Self.backend(here) == "echo-v1" && here.responseHeaders?["x-header-set"] == nil)
    }

    @Test("MeshHTTPRouteSimpleSameNamespace") func meshHTTPRouteSimpleSameNamespace() throws {
        let mesh = try Self.mesh(Self.route("gateway-conformance-mesh-test", rules: "  - backendRefs: [{name: echo-v1, port: 8080}]"))
        mesh.expectAccepted()
        #expect(mesh.get("echo").outcome == .cluster(Self.cluster("echo-v1"), endpoints: ["10.1.0.1:8080"]))
    }

    @Test("MeshHTTPRouteMatching") func meshHTTPRouteMatching() throws {
        let mesh = try Self.mesh(
            Self.route(
                "mesh-matching",
                rules: """
                      - matches: [{path: {type: PathPrefix, value: /}}, {headers: [{name: version, value: one}]}]
                        backendRefs: [{name: echo-v1, port: 8080}]
                      - matches: [{path: {type: PathPrefix, value: /v2}}, {headers: [{name: version, value: two}]}]
                        backendRefs: [{name: echo-v2, port: 8080}]
                    """))
        mesh.expectAccepted()
        let expected: [(String, [String: String], String)] = [
            ("/", [:], "echo-v1"), ("/example", [:], "echo-v1"), ("/", ["Version": "one"], "echo-v1"), ("/v2", [:], "echo-v2"),
            ("/v2/example", [:], "echo-v2"), ("/", ["Version": "two"], "echo-v2"), ("/v2/", [:], "echo-v2"), ("/v2example", [:], "echo-v1"),
            ("/foo/v2/example", [:], "echo-v1"),
        ]
        for (path, headers, backend) in expected {
            #expect(Self.backend(mesh.get("echo", path: path, headers: headers)) == backend, "\(path) \(headers)")
        }
    }

    @Test("MeshHTTPRouteNamedRule") func meshHTTPRouteNamedRule() throws {
        let mesh = try Self.mesh(
            Self.route(
                "mesh-http-named-rules",
                rules: """
                      - name: named-rule
                        matches: [{path: {type: PathPrefix, value: /named}}]
                        backendRefs: [{name: echo-v1, port: 8080}]
                      - matches: [{path: {type: PathPrefix, value: /unnamed}}]
                        backendRefs: [{name: echo-v2, port: 8080}]
                    """))
        mesh.expectAccepted()
        #expect(Self.backend(mesh.get("echo", path: "/named")) == "echo-v1")
        #expect(Self.backend(mesh.get("echo", path: "/unnamed")) == "echo-v2")
    }

    @Test("MeshHTTPRouteQueryParamMatching") func meshHTTPRouteQueryParamMatching() throws {
        let mesh = try Self.mesh(
            Self.route(
                "mesh-query-param-matching",
                rules: """
                      - matches: [{queryParams: [{name: animal, value: whale}]}]
                        backendRefs: [{name: echo-v1, port: 8080}]
                      - matches: [{queryParams: [{name: animal, value: dolphin}]}]
                        backendRefs: [{name: echo-v2, port: 8080}]
                      - matches: [{path: {type: PathPrefix, value: /path1}, queryParams: [{name: animal, value: whale}]}]
                        backendRefs: [{name: echo-v1, port: 8080}]
                      - matches: [{headers: [{name: version, value: one}], queryParams: [{name: animal, value: whale}]}]
                        backendRefs: [{name: echo-v2, port: 8080}]
                      - matches:
                        - {path: {type: PathPrefix, value: /path3}, queryParams: [{name: animal, value: shark}]}
                        - {path: {type: PathPrefix, value: /path4}, headers: [{name: version, value: three}], queryParams: [{name: animal, value: kraken}]}
                        backendRefs: [{name: echo-v1, port: 8080}]
                      - matches: [{path: {type: PathPrefix, value: /path5}}]
                        backendRefs: [{name: echo-v1, port: 8080}]
                      - matches: [{queryParams: [{name: animal, value: hydra}]}]
                        backendRefs: [{name: echo-v2, port: 8080}]
                    """))
        mesh.expectAccepted()
        let expected: [(String, [String: String], String?)] = [
            ("/?animal=whale", [:], "echo-v1"), ("/?animal=dolphin", [:], "echo-v2"), ("/?animal=whale&otherparam=irrelevant", [:], "echo-v1"),
            ("/?animal=dolphin&color=yellow", [:], "echo-v2"), ("/?color=blue", [:], nil), ("/?animal=dog", [:], nil),
            ("/?animal=whaledolphin", [:], nil), ("/", [:], nil), ("/path1?animal=whale", [:], "echo-v1"),
            ("/?animal=whale", ["version": "one"], "echo-v2"), ("/path3?animal=shark", [:], "echo-v1"),
            ("/path4?animal=kraken", ["version": "three"], "echo-v1"), ("/?animal=shark", [:], nil), ("/path4?animal=kraken", [:], nil),
            ("/path5?animal=hydra", [:], "echo-v1"),
        ]
        for (path, headers, backend) in expected {
            let result = mesh.get("echo", path: path, headers: headers)
            if let backend {
                #expect(Self.backend(result) == backend, "\(path) \(headers)")
            } else {
                // Once a route is attached, a request no rule matches is a 404 (no route).
                #expect(result.outcome == .noRoute, "\(path) \(headers)")
            }
        }
    }

    @Test("MeshHTTPRouteWeight") func meshHTTPRouteWeight() throws {
        let mesh = try Self.mesh(
            Self.route(
                "mesh-weighted-backends",
                rules: "  - backendRefs: [{name: echo-v1, port: 8080, weight: 70}, {name: echo-v2, port: 8080, weight: 30}]"))
        mesh.expectAccepted()
        #expect(mesh.get("echo").outcome == .weighted([.init(Self.cluster("echo-v1"), 70), .init(Self.cluster("echo-v2"), 30)]))
    }

    @Test("MeshGRPCRouteWeight") func meshGRPCRouteWeight() throws {
        let mesh = try Self.mesh(
            Self.route(
                "mesh-grpc-weighted-backends", kind: "GRPCRoute", port: 7070,
                rules: """
                      - backendRefs:
                        - {name: echo-v1, port: 7070, weight: 70}
                        - {name: echo-v2, port: 7070, weight: 30}
                        - {name: echo-v3, port: 7070, weight: 0}
                    """))
        #expect(
            mesh.get("echo:7070", path: "/grpc.examples.echo.Echo/UnaryEcho").outcome
                == .weighted([.init(Self.cluster("echo-v1", port: 7070), 70), .init(Self.cluster("echo-v2", port: 7070), 30)]))
        // echo-v3 does not exist: reported, and it takes no traffic (its weight is 0).
        let status = try #require(mesh.push.routeStatuses[ConfigKey(kind: .grpcRoute, namespace: Self.mesh, name: "mesh-grpc-weighted-backends")])
        #expect(status.parents[0].condition("Accepted")?.isTrue == true)
        #expect(status.parents[0].condition("ResolvedRefs")?.reason == "BackendNotFound")
    }

    @Test(
        "MeshHTTPRoute303Redirect, MeshHTTPRoute307Redirect, MeshHTTPRoute308Redirect",
        arguments: [(303, "/redirect"), (307, "/temporary"), (308, "/permanent")])
    func meshHTTPRouteRedirectStatus(_ code: Int, _ path: String) throws {
        // MeshHTTPRoute303Redirect, MeshHTTPRoute307Redirect, MeshHTTPRoute308Redirect.
        let mesh = try Self.mesh(
            Self.route(
                "mesh-redirect-\(code)",
                rules: """
                      - matches: [{path: {type: PathPrefix, value: \(path)}}]
                        filters: [{type: RequestRedirect, requestRedirect: {statusCode: \(code)}}]
                    """))
        mesh.expectAccepted()
        #expect(mesh.get("echo", path: path).outcome == .redirect(location: "://", status: UInt32(code)))
    }

    @Test("MeshHTTPRouteRedirectHostAndStatus") func meshHTTPRouteRedirectHostAndStatus() throws {
        let mesh = try Self.mesh(
            Self.route(
                "mesh-redirect-host-and-status",
                rules: """
                      - matches: [{path: {type: PathPrefix, value: /hostname-redirect}}]
                        filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org}}]
                      - matches: [{path: {type: PathPrefix, value: /host-and-status}}]
                        filters: [{type: RequestRedirect, requestRedirect: {statusCode: 301, hostname: example.org}}]
                    """))
        mesh.expectAccepted()
        #expect(mesh.get("echo", path: "/hostname-redirect").outcome == .redirect(location: "://example.org", status: 302))
        #expect(mesh.get("echo", path: "/host-and-status").outcome == .redirect(location: "://example.org", status: 301))
    }

    @Test("MeshHTTPRouteRedirectPath") func meshHTTPRouteRedirectPath() throws {
        let mesh = try Self.mesh(
            Self.route(
                "mesh-redirect-path",
                rules: """
                      - matches: [{path: {type: PathPrefix, value: /original-prefix}}]
                        filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}}]
                      - matches: [{path: {type: PathPrefix, value: /full}}]
                        filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /full-path-replacement}}}]
                      - matches: [{path: {type: PathPrefix, value: /path-and-host}}]
                        filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org, path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}}]
                      - matches: [{path: {type: PathPrefix, value: /path-and-status}}]
                        filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}, statusCode: 301}}]
                      - matches: [{path: {type: PathPrefix, value: /full-path-and-host}}]
                        filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org, path: {type: ReplaceFullPath, replaceFullPath: /replacement-full}}}]
                      - matches: [{path: {type: PathPrefix, value: /full-path-and-status}}]
                        filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /replacement-full}, statusCode: 301}}]
                    """))
        mesh.expectAccepted()
        let expected: [(String, String, UInt32)] = [
            ("/original-prefix/lemon", ":///replacement-prefix/lemon", 302), ("/full/path/original", ":///full-path-replacement", 302),
            ("/path-and-host", "://example.org/replacement-prefix", 302), ("/path-and-status", ":///replacement-prefix", 301),
            ("/full-path-and-host", "://example.org/replacement-full", 302), ("/full-path-and-status", ":///replacement-full", 301),
        ]
        for (path, location, status) in expected {
            #expect(mesh.get("echo", path: path).outcome == .redirect(location: location, status: status), "\(path)")
        }
    }

    @Test("MeshHTTPRouteRedirectPort") func meshHTTPRouteRedirectPort() throws {
        let mesh = try Self.mesh(
            Self.route(
                "mesh-redirect-port",
                rules: """
                      - matches: [{path: {type: PathPrefix, value: /port}}]
                        filters: [{type: RequestRedirect, requestRedirect: {port: 8083}}]
                      - matches: [{path: {type: PathPrefix, value: /port-and-host}}]
                        filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org, port: 8083}}]
                      - matches: [{path: {type: PathPrefix, value: /port-and-status}}]
                        filters: [{type: RequestRedirect, requestRedirect: {port: 8083, statusCode: 301}}]
                      - matches: [{path: {type: PathPrefix, value: /port-and-host-and-status}}]
                        filters: [{type: RequestRedirect, requestRedirect: {port: 8083, hostname: example.org, statusCode: 302}}]
                    """))
        mesh.expectAccepted()
        #expect(mesh.get("echo", path: "/port").outcome == .redirect(location: "://:8083", status: 302))
        #expect(mesh.get("echo", path: "/port-and-host").outcome == .redirect(location: "://example.org:8083", status: 302))
        #expect(mesh.get("echo", path: "/port-and-status").outcome == .redirect(location: "://:8083", status: 301))
        #expect(mesh.get("echo", path: "/port-and-host-and-status").outcome == .redirect(location: "://example.org:8083", status: 302))
    }

    @Test("MeshHTTPRouteSchemeRedirect") func meshHTTPRouteSchemeRedirect() throws {
        let mesh = try Self.mesh(
            Self.route(
                "mesh-redirect-scheme",
                rules: """
                      - matches: [{path: {type: PathPrefix, value: /scheme}}]
                        filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]
                      - matches: [{path: {type: PathPrefix, value: /scheme-and-host}}]
                        filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org, scheme: https}}]
                      - matches: [{path: {type: PathPrefix, value: /scheme-and-status}}]
                        filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]
                      - matches: [{path: {type: PathPrefix, value: /scheme-and-host-and-status}}]
                        filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 302, hostname: example.org}}]
                    """))
        mesh.expectAccepted()
        // No port: the new scheme's own (left out of the location).
        #expect(mesh.get("echo", path: "/scheme").outcome == .redirect(location: "https://", status: 302))
        #expect(mesh.get("echo", path: "/scheme-and-host").outcome == .redirect(location: "https://example.org", status: 302))
        #expect(mesh.get("echo", path: "/scheme-and-status").outcome == .redirect(location: "https://", status: 301))
        #expect(mesh.get("echo", path: "/scheme-and-host-and-status").outcome == .redirect(location: "https://example.org", status: 302))
    }

    static let headerRules = [
        ("/set", "{set: [{name: X-Header-Set, value: set-overwrites-values}]}"),
        ("/add", "{add: [{name: X-Header-Add, value: add-appends-values}]}"),
        ("/remove", "{remove: [X-Header-Remove]}"),
        (
            "/multiple",
            "{set: [{name: X-Header-Set-1, value: header-set-1}, {name: X-Header-Set-2, value: header-set-2}], add: [{name: X-Header-Add-1, value: header-add-1}, {name: X-Header-Add-2, value: header-add-2}, {name: X-Header-Add-3, value: header-add-3}], remove: [X-Header-Remove-1, X-Header-Remove-2]}"
        ),
        (
            "/case-insensitivity",
            "{set: [{name: X-Header-Set, value: header-set}], add: [{name: X-Header-Add, value: header-add}], remove: [X-Header-Remove]}"
        ),
    ]

    /// MeshHTTPRouteRequestHeaderModifier (filters on the rule) and
    /// MeshHTTPRouteBackendRequestHeaderModifier (on the backend): the same requests, the same
    /// headers at the backend.
    @Test("MeshHTTPRouteRequestHeaderModifier, MeshHTTPRouteBackendRequestHeaderModifier", arguments: [false, true])
    func meshHTTPRouteRequestHeaderModifier(onBackend: Bool) throws {
        let rules = Self.headerRules.map { (path: String, modifier: String) -> String in
            let filter: String = "[{type: RequestHeaderModifier, requestHeaderModifier: \(modifier)}]"
            return onBackend
                ? "  - matches: [{path: {type: PathPrefix, value: \(path)}}]\n    backendRefs: [{name: echo-v1, port: 8080, filters: \(filter)}]"
                : "  - matches: [{path: {type: PathPrefix, value: \(path)}}]\n    filters: \(filter)\n    backendRefs: [{name: echo-v1, port: 8080}]"
        }.joined(separator: "\n")
        let mesh = try Self.mesh(Self.route("mesh-request-header-modifier", rules: rules))
        mesh.expectAccepted()
        func forwarded(_ path: String, _ headers: [String: String]) -> [String: String] {
            let result = mesh.get("echo", path: path, headers: headers)
            #expect(Self.backend(result) == "echo-v1", "\(path)")
            return result.forwarded?.headers ?? [:]
        }
        var seen = forwarded("/set", ["Some-Other-Header": "val"])
        #expect(seen["some-other-header"] == "val" && seen["x-header-set"] == "set-overwrites-values")
        #expect(forwarded("/set", ["X-Header-Set": "some-other-value"])["x-header-set"] == "set-overwrites-values")
        #expect(forwarded("/add", [:])["x-header-add"] == "add-appends-values")
        #expect(forwarded("/add", ["X-Header-Add": "some-other-value"])["x-header-add"] == "some-other-value,add-appends-values")
        #expect(forwarded("/remove", ["X-Header-Remove": "val"])["x-header-remove"] == nil)
        seen = forwarded(
            "/multiple",
            [
                "X-Header-Set-2": "set-val-2", "X-Header-Add-2": "add-val-2", "X-Header-Remove-2": "remove-val-2",
                "Another-Header": "another-header-val",
            ])
        #expect(seen["x-header-set-1"] == "header-set-1" && seen["x-header-set-2"] == "header-set-2")
        #expect(
            seen["x-header-add-1"] == "header-add-1" && seen["x-header-add-2"] == "add-val-2,header-add-2" && seen["x-header-add-3"] == "header-add-3"
        )
        #expect(seen["another-header"] == "another-header-val" && seen["x-header-remove-1"] == nil && seen["x-header-remove-2"] == nil)
        seen = forwarded(
            "/case-insensitivity",
            ["x-header-set": "original-val-set", "x-header-add": "original-val-add", "x-header-remove": "original-val-remove", "Another-Header": "a"])
        #expect(seen["x-header-set"] == "header-set" && seen["x-header-add"] == "original-val-add,header-add")
        #expect(seen["x-header-remove"] == nil && seen["another-header"] == "a")
    }

    @Test("MeshHTTPRouteRewritePath") func meshHTTPRouteRewritePath() throws {
        let modify =
            "{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Header-Set, value: set-overwrites-values}], add: [{name: X-Header-Add, value: header-val-1}, {name: X-Header-Add-Append, value: header-val-2}], remove: [X-Header-Remove]}}"
        let mesh = try Self.mesh(
            Self.route(
                "mesh-rewrite-path",
                rules: """
                      - matches: [{path: {type: PathPrefix, value: /prefix/one}}]
                        filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /one}}}]
                        backendRefs: [{name: echo-v1, port: 80}]
                      - matches: [{path: {type: PathPrefix, value: /strip-prefix}}]
                        filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
                        backendRefs: [{name: echo-v1, port: 80}]
                      - matches: [{path: {type: PathPrefix, value: /full/one}}]
                        filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /one}}}]
                        backendRefs: [{name: echo-v1, port: 80}]
                      - matches: [{path: {type: PathPrefix, value: /full/rewrite-path-and-modify-headers}}]
                        filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /test}}}, \(modify)]
                        backendRefs: [{name: echo-v1, port: 80}]
                      - matches: [{path: {type: PathPrefix, value: /prefix/rewrite-path-and-modify-headers}}]
                        filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /prefix}}}, \(modify)]
                        backendRefs: [{name: echo-v1, port: 80}]
                    """))
        mesh.expectAccepted()
        let paths = [
            ("/prefix/one/two", "/one/two"), ("/strip-prefix/three", "/three"), ("/strip-prefix", "/"), ("/full/one/two", "/one"),
        ]
        for (path, rewritten) in paths {
            let result = mesh.get("echo", path: path)
            #expect(Self.backend(result) == "echo-v1" && result.forwarded?.path == rewritten, "\(path)")
        }
        let headers = ["X-Header-Remove": "remove-val", "X-Header-Add-Append": "append-val-1", "X-Header-Set": "set-val"]
        for (path, rewritten) in [
            ("/full/rewrite-path-and-modify-headers/test", "/test"), ("/prefix/rewrite-path-and-modify-headers/one", "/prefix/one"),
        ] {
            let result = mesh.get("echo", path: path, headers: headers)
            let seen = result.forwarded?.headers ?? [:]
            #expect(result.forwarded?.path == rewritten, "\(path)")
            #expect(seen["x-header-add"] == "header-val-1" && seen["x-header-add-append"] == "append-val-1,header-val-2")
            #expect(seen["x-header-set"] == "set-overwrites-values" && seen["x-header-remove"] == nil)
        }
    }

    /// Not a mesh scenario upstream (HTTPRouteCORS is the gateway profile's): a route's CORS
    /// filter answers a sidecar's preflights, an origin's `*` standing for its leading labels.
    @Test func corsFilterAnswersPreflights() throws {
        let mesh = try Self.mesh(
            Self.route(
                "mesh-cors",
                rules: """
                      - filters:
                        - type: CORS
                          cors: {allowOrigins: ["https://*.example.com", "http://app.test:8080"], allowMethods: [GET, POST], allowHeaders: [x-user], maxAge: 60}
                        backendRefs: [{name: echo-v1, port: 8080}]
                    """))
        mesh.expectAccepted()
        func preflight(_ origin: String) -> SimulationResult {
            mesh.simulation.connect(
                SimulatedConnection(
                    address: Self.address(of: "echo"), port: 80,
                    request: SimulatedRequest(
                        authority: "echo", path: "/", headers: ["Origin": origin, "Access-Control-Request-Method": "POST"], method: "OPTIONS"))
            ).result
        }
        #expect(
            preflight("https://shop.example.com").cors
                == .preflightAllowed(headers: [
                    "access-control-allow-origin": "https://shop.example.com", "access-control-allow-methods": "GET,POST",
                    "access-control-allow-headers": "x-user", "access-control-max-age": "60",
                ]))
        #expect(preflight("http://app.test:8080").cors != .preflightDenied(forwarded: true))
        #expect(preflight("https://example.org").cors == .preflightDenied(forwarded: true))
    }
}

import MeshModel
import MeshTesting
import Testing

@testable import Translator

/// The analyzers over a table of fixtures: each problem found with its code, resource and field
/// (and nothing else), and nothing at all in clean configurations.
@Suite struct ConfigAnalysisTests {
    /// One fixture: YAML added to (or replacing part of) the canary, and what must be found.
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var yaml: [String]
        var expected: [Expected]
        var testDescription: String { name }
    }

    struct Expected: Hashable, CustomStringConvertible, Sendable {
        var code: String
        var resource: String
        var field: String
        var description: String { "\(code) (\(resource)) \(field)" }
    }

    static let registry = CanaryFixture.registry
    static let rule = CanaryFixture.destinationRule(subsets: ["v1", "v2"])
    static let split = CanaryFixture.virtualService([("v1", 50), ("v2", 50)])

    static func doc(_ kind: String, _ name: String, namespace: String = "default", api: String = "networking.istio.io/v1", _ spec: String) -> String {
        """
        apiVersion: \(api)
        kind: \(kind)
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
        \(spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    static func expect(_ code: String, _ resource: String, _ field: String) -> Expected {
        Expected(code: code, resource: resource, field: field)
    }

    static let problems: [Case] = [
        Case(
            name: "destination host that does not exist",
            yaml: [
                registry, rule, split,
                doc(
                    "VirtualService", "ghost",
                    """
                    hosts: [ghost]
                    http:
                    - route: [{destination: {host: nowhere}}]
                    """),
            ], expected: [expect("IST0101", "VirtualService default/ghost", "spec.http[0].route[0].destination.host")]),
        Case(
            name: "subset no DestinationRule defines", yaml: [registry, rule, CanaryFixture.virtualService([("v1", 50), ("v3", 50)])],
            expected: [expect("IST0101", "VirtualService default/reviews", "spec.http[0].route[1].destination.subset")]),
        Case(
            name: "mirror to a host that does not exist",
            yaml: [
                registry, rule,
                doc(
                    "VirtualService", "reviews",
                    """
                    hosts: [reviews]
                    http:
                    - route: [{destination: {host: reviews, subset: v1}}]
                      mirror: {host: shadow}
                    """),
            ], expected: [expect("IST0101", "VirtualService default/reviews", "spec.http[0].mirror.host")]),
        Case(
            name: "two VirtualServices claim one host",
            yaml: [
                registry, rule, split,
                doc(
                    "VirtualService", "reviews-copy",
                    """
                    hosts: [reviews.default.svc.cluster.local]
                    http:
                    - route: [{destination: {host: reviews, subset: v2}}]
                    """),
            ],
            expected: [
                expect("IST0109", "VirtualService default/reviews", "spec.hosts[0]"),
                expect("IST0109", "VirtualService default/reviews-copy", "spec.hosts[0]"),
            ]),
        Case(
            name: "two namespaces export one host everywhere",
            yaml: [
                registry, rule, split,
                doc(
                    "VirtualService", "reviews", namespace: "other",
                    """
                    hosts: [reviews.default.svc.cluster.local]
                    http:
                    - route: [{destination: {host: reviews.default.svc.cluster.local, subset: v2}}]
                    """),
            ],
            expected: [
                expect("IST0109", "VirtualService default/reviews", "spec.hosts[0]"),
                expect("IST0109", "VirtualService other/reviews", "spec.hosts[0]"),
            ]),
        Case(
            name: "subset selecting no workload", yaml: [registry, CanaryFixture.destinationRule(subsets: ["v1", "v2", "v3"]), split],
            expected: [expect("IST0173", "DestinationRule default/reviews", "spec.subsets[2].labels")]),
        Case(
            name: "DestinationRule for a host that does not exist",
            yaml: [
                registry, rule, split,
                doc(
                    "DestinationRule", "ghost",
                    """
                    host: ghost
                    trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
                    """),
            ], expected: [expect("IST0174", "DestinationRule default/ghost", "spec.host")]),
        Case(
            name: "second DestinationRule for a host in one namespace",
            yaml: [
                registry, rule, split,
                doc(
                    "DestinationRule", "reviews-2",
                    """
                    host: reviews.default.svc.cluster.local
                    subsets: [{name: v9, labels: {version: v9}}]
                    """),
            ], expected: [expect("MSH0002", "DestinationRule default/reviews-2", "spec.host")]),
        Case(
            name: "Sidecar hiding a host its namespace's VirtualService routes",
            yaml: [
                registry, rule, split,
                doc(
                    "Sidecar", "default",
                    """
                    egress: [{hosts: [istio-system/*]}]
                    """),
            ], expected: [expect("MSH0001", "Sidecar default/default", "spec.egress")]),
        Case(
            name: "Sidecar selector selecting no workload",
            yaml: [
                registry, rule, split,
                doc(
                    "Sidecar", "ratings",
                    """
                    workloadSelector: {labels: {app: ratings}}
                    egress: [{hosts: [./*]}]
                    """),
            ], expected: [expect("IST0101", "Sidecar default/ratings", "spec.workloadSelector.labels")]),
        Case(
            name: "two namespace-default Sidecars",
            yaml: [
                registry, rule, split, doc("Sidecar", "a", "egress: [{hosts: [./*]}]"),
                doc("Sidecar", "b", "egress: [{hosts: [./*]}]"),
            ],
            expected: [
                expect("IST0111", "Sidecar default/a", "spec.workloadSelector"),
                expect("IST0111", "Sidecar default/b", "spec.workloadSelector"),
            ]),
        Case(
            name: "two Sidecars selecting one workload",
            yaml: [
                registry, rule, split,
                doc("Sidecar", "reviews", "workloadSelector: {labels: {app: reviews}}\negress: [{hosts: [./*]}]"),
                doc("Sidecar", "v1", "workloadSelector: {labels: {version: v1}}\negress: [{hosts: [./*]}]"),
            ],
            expected: [
                expect("IST0110", "Sidecar default/reviews", "spec.workloadSelector"),
                expect("IST0110", "Sidecar default/v1", "spec.workloadSelector"),
            ]),
        Case(
            name: "AuthorizationPolicy selecting no workload",
            yaml: [
                registry, rule, split,
                doc(
                    "AuthorizationPolicy", "ratings", api: "security.istio.io/v1",
                    """
                    selector: {matchLabels: {app: ratings}}
                    action: DENY
                    rules: [{to: [{operation: {methods: [GET]}}]}]
                    """),
            ], expected: [expect("IST0127", "AuthorizationPolicy default/ratings", "spec.selector.matchLabels")]),
        Case(
            name: "namespace-wide AuthorizationPolicy in a namespace without workloads",
            yaml: [
                registry, rule, split,
                doc("AuthorizationPolicy", "allow-nothing", namespace: "empty", api: "security.istio.io/v1", "action: ALLOW"),
            ],
            expected: [expect("IST0127", "AuthorizationPolicy empty/allow-nothing", "metadata.namespace")]),
        Case(
            name: "PeerAuthentication selecting no workload",
            yaml: [
                registry, rule, split,
                doc(
                    "PeerAuthentication", "ratings", api: "security.istio.io/v1",
                    """
                    selector: {matchLabels: {app: ratings}}
                    mtls: {mode: STRICT}
                    """),
            ], expected: [expect("IST0127", "PeerAuthentication default/ratings", "spec.selector.matchLabels")]),
        Case(
            name: "port-less destination of a multi-port service",
            yaml: [
                registry, rule, split,
                doc(
                    "ServiceEntry", "ratings",
                    """
                    hosts: [ratings.default.svc.cluster.local]
                    ports: [{number: 9080, name: grpc, protocol: GRPC}, {number: 9090, name: admin, protocol: GRPC}]
                    resolution: STATIC
                    endpoints: [{address: 127.0.0.1}]
                    """),
                doc(
                    "VirtualService", "ratings",
                    """
                    hosts: [ratings]
                    http:
                    - route: [{destination: {host: ratings}}]
                    """),
            ], expected: [expect("IST0112", "VirtualService default/ratings", "spec.http[0].route[0].destination.host")]),
    ]

    static let clean: [Case] = [
        Case(name: "canary 50/50", yaml: [registry, rule, split], expected: []),
        Case(name: "canary 0/100", yaml: [registry, rule, CanaryFixture.virtualService([("v1", 0), ("v2", 100)])], expected: []),
        Case(
            name: "canary through a gateway its workload serves",
            yaml: [
                registry, rule,
                doc(
                    "Gateway", "edge",
                    "selector: {app: reviews}\nservers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [\"*/reviews.example.com\"]}]"),
                doc(
                    "VirtualService", "reviews",
                    "hosts: [reviews, reviews.example.com]\ngateways: [mesh, edge]\nhttp: [{route: [{destination: {host: reviews, subset: v1}}]}]"),
            ], expected: []),
        Case(
            name: "canary with a Sidecar and policies",
            yaml: [
                registry, rule, split,
                doc("Sidecar", "default", "egress: [{hosts: [./*, istio-system/*]}]"),
                doc("Sidecar", "reviews-v2", "workloadSelector: {labels: {version: v2}}\negress: [{hosts: [./reviews.default.svc.cluster.local]}]"),
                doc(
                    "AuthorizationPolicy", "reviews", api: "security.istio.io/v1",
                    "selector: {matchLabels: {app: reviews}}\naction: ALLOW\nrules: [{from: [{source: {namespaces: [default]}}]}]"),
                doc(
                    "AuthorizationPolicy", "mesh-deny", namespace: "istio-system", api: "security.istio.io/v1",
                    "selector: {matchLabels: {version: v1}}\naction: DENY\nrules: [{to: [{operation: {paths: [/admin]}}]}]"),
                doc("PeerAuthentication", "default", namespace: "istio-system", api: "security.istio.io/v1", "mtls: {mode: STRICT}"),
                doc(
                    "PeerAuthentication", "reviews", api: "security.istio.io/v1", "selector: {matchLabels: {app: reviews}}\nmtls: {mode: PERMISSIVE}"),
            ], expected: []),
    ]

    static let gatewayProblems: [Case] = [
        Case(
            name: "a VirtualService naming a Gateway that does not exist",
            yaml: [
                registry, rule,
                doc(
                    "VirtualService", "reviews",
                    "hosts: [reviews.example.com]\ngateways: [mesh, istio-system/missing]\nhttp: [{route: [{destination: {host: reviews}}]}]"),
            ],
            expected: [
                expect("IST0101", "VirtualService default/reviews", "spec.gateways[1]"),
                expect("IST0132", "VirtualService default/reviews", "spec.gateways[1]"),
            ]),
        Case(
            name: "a VirtualService host the Gateway does not expose",
            yaml: [
                registry, rule,
                doc(
                    "Gateway", "edge",
                    "selector: {app: reviews}\nservers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [\"*.example.org\"]}]"),
                doc("VirtualService", "reviews", "hosts: [reviews.example.com]\ngateways: [edge]\nhttp: [{route: [{destination: {host: reviews}}]}]"),
            ], expected: [expect("IST0132", "VirtualService default/reviews", "spec.gateways[0]")]),
        Case(
            name: "a server host for another namespace does not expose it",
            yaml: [
                registry, rule,
                doc("Gateway", "edge", "selector: {app: reviews}\nservers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [\"prod/*\"]}]"),
                doc(
                    "VirtualService", "reviews", "hosts: [reviews.example.com]\ngateways: [./edge]\nhttp: [{route: [{destination: {host: reviews}}]}]"
                ),
            ], expected: [expect("IST0132", "VirtualService default/reviews", "spec.gateways[0]")]),
        Case(
            name: "a Gateway whose selector matches no workload",
            yaml: [
                registry, rule,
                doc(
                    "Gateway", "edge",
                    "selector: {istio: ingressgateway}\nservers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [\"*\"]}]"),
            ], expected: [expect("IST0101", "Gateway default/edge", "spec.selector")]),
    ]

    @Test(arguments: gatewayProblems)
    func findsGatewayProblems(_ fixture: Case) throws {
        let messages = try Self.analyze(fixture.yaml)
        #expect(messages.map { Expected(code: $0.code.rawValue, resource: "\($0.resource)", field: $0.field) } == fixture.expected, "\(messages)")
    }

    /// A connected gateway proxy counts as the workload a Gateway's selector looks for.
    @Test func aConnectedGatewayProxySatisfiesTheSelector() throws {
        let gateway = Self.doc(
            "Gateway", "edge", "selector: {istio: ingressgateway}\nservers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [\"*\"]}]")
        let proxy = AnalysisWorkload(
            namespace: "istio-system", name: "router~10.0.0.9~ingress-1.istio-system~istio-system.svc.cluster.local",
            labels: ["istio": "ingressgateway"])
        #expect(try Self.analyze([Self.registry, gateway], connected: [proxy]).isEmpty)
    }

    static func analyze(_ texts: [String], connected: [AnalysisWorkload] = [], namespace: String? = nil) throws -> [AnalysisMessage] {
        var inputs: [PushContextBuilder.Input] = []
        for text in texts {
            for resource in try ConfigDocumentParser.parse(text) {
                inputs.append(.init(key: resource.key, createdRevision: Int64(inputs.count + 1), config: try ConfigValidator.validate(resource)))
            }
        }
        return ConfigAnalysis.analyze(AnalysisInput(resources: inputs, connected: connected), namespace: namespace)
    }

    @Test(arguments: problems + clean)
    func findsExactlyTheProblem(_ fixture: Case) throws {
        let messages = try Self.analyze(fixture.yaml)
        let found = messages.map { Expected(code: $0.code.rawValue, resource: "\($0.resource)", field: $0.field) }
        #expect(found == fixture.expected, "\(messages)")
        for message in messages {
            #expect(!message.message.isEmpty)
            for kind in ConfigKind.allCases {
                #expect(!message.message.contains("\(kind.rawValue) \(kind.rawValue) "), "kind named twice: \(message)")
            }
        }
    }

    @Test func istioctlLinesAndLevels() throws {
        let messages = try Self.analyze([Self.registry, Self.rule, CanaryFixture.virtualService([("v1", 50), ("v3", 50)])])
        #expect(
            messages.map(\.description) == [
                #"Error [IST0101] (VirtualService default/reviews) Referenced host+subset in destinationrule not found: "reviews.default.svc.cluster.local+v3""#
            ])
        #expect(AnalysisCode.noMatchingWorkloadsFound.level == .warning)
        #expect(AnalysisLevel(named: "warning") == .warning && AnalysisLevel.info < .error)
    }

    @Test func namespaceFilterKeepsOnlyThatNamespacesResources() throws {
        let texts = [
            Self.registry, Self.rule, Self.split,
            Self.doc(
                "VirtualService", "reviews", namespace: "other",
                """
                hosts: [reviews.default.svc.cluster.local]
                http:
                - route: [{destination: {host: reviews.default.svc.cluster.local, subset: v2}}]
                """),
        ]
        #expect(try Self.analyze(texts, namespace: "other").map { "\($0.resource)" } == ["VirtualService other/reviews"])
        #expect(try Self.analyze(texts, namespace: "nowhere").isEmpty)
    }

    @Test func connectedProxiesCountAsWorkloads() throws {
        let policy = Self.doc(
            "AuthorizationPolicy", "client", api: "security.istio.io/v1",
            "selector: {matchLabels: {app: client}}\naction: ALLOW\nrules: [{from: [{source: {namespaces: [default]}}]}]")
        let texts = [Self.registry, Self.rule, Self.split, policy]
        #expect(try Self.analyze(texts).map(\.code) == [.noMatchingWorkloadsFound])
        let client = AnalysisWorkload(namespace: "default", name: "grpc-client", labels: ["app": "client"])
        #expect(try Self.analyze(texts, connected: [client]).isEmpty)
        let elsewhere = AnalysisWorkload(namespace: "other", name: "grpc-client", labels: ["app": "client"])
        #expect(try Self.analyze(texts, connected: [elsewhere]).map(\.code) == [.noMatchingWorkloadsFound])
    }

    @Test func storedResourceFailingValidationIsReported() throws {
        let resources = try ConfigDocumentParser.parse(Self.registry + "\n---\n" + Self.rule + "\n---\n" + Self.split)
        let inputs = try resources.enumerated().map { index, resource in
            PushContextBuilder.Input(key: resource.key, createdRevision: Int64(index + 1), config: try ConfigValidator.validate(resource))
        }
        let bad = ConfigWarning(
            key: ConfigKey(kind: .virtualService, namespace: "default", name: "old"),
            field: "spec.http[0].route[0].weight", message: "left out of pushes: weights must add up to 100")
        let context = PushContextBuilder.build(revision: 4, inputs: inputs, invalid: [bad])
        let messages = ConfigAnalysis.analyze(AnalysisInput(resources: inputs, context: context))
        #expect(messages.map(\.code) == [.schemaValidationError])
        #expect(messages.first?.field == "spec.http[0].route[0].weight")
    }

    @Test func everyCodeIsDocumented() throws {
        let doc = try String(
            contentsOfFile: #filePath.replacingOccurrences(of: "Tests/TranslatorTests/ConfigAnalysisTests.swift", with: "docs/analyze.md"),
            encoding: .utf8)
        for code in AnalysisCode.allCases {
            #expect(doc.contains("## \(code.rawValue) \(code.name)"), "docs/analyze.md has no section for \(code.rawValue)")
            #expect(doc.contains("| \(code.rawValue) | \(code.name) | \(code.level.rawValue) |"), "docs/analyze.md's table lacks \(code.rawValue)")
        }
    }
}

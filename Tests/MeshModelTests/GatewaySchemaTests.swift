import Testing

@testable import MeshModel

/// The Gateway API CRDs' structural schema: what the API server refuses, meshd refuses, at the
/// same path; what it defaults, meshd reads.
struct GatewaySchemaTests {
    struct Refusal: CustomTestStringConvertible, Sendable {
        var kind: ConfigKind = .httpRoute
        var spec: String
        var path: String
        var message: String
        var testDescription: String { "\(path): \(message)" }
    }

    static let refusals: [Refusal] = [
        .init(spec: #"{"rules":[{"matchs":[]}]}"#, path: "spec.rules[0].matchs", message: "unknown field \"matchs\""),
        .init(spec: #"{"hostnames":["-bad-"]}"#, path: "spec.hostnames[0]", message: "Invalid value: \"-bad-\": should match"),
        .init(
            spec: #"{"rules":[{"matches":[{"path":{"type":"Suffix","value":"/"}}]}]}"#, path: "spec.rules[0].matches[0].path.type",
            message: "Unsupported value: \"Suffix\": supported values: \"Exact\", \"PathPrefix\", \"RegularExpression\""),
        .init(spec: #"{"parentRefs":[{"kind":"Service"}]}"#, path: "spec.parentRefs[0].name", message: "Required value"),
        .init(
            spec: #"{"rules":[{"backendRefs":[{"name":"a","port":70000}]}]}"#, path: "spec.rules[0].backendRefs[0].port",
            message: "Invalid value: 70000: should be less than or equal to 65535"),
        .init(
            spec: #"{"rules":[{"backendRefs":[{"name":"a","port":80,"weight":-1}]}]}"#, path: "spec.rules[0].backendRefs[0].weight",
            message: "Invalid value: -1: should be greater than or equal to 0"),
        .init(
            spec: #"{"rules":[{"backendRefs":[{"name":"a","port":"80"}]}]}"#, path: "spec.rules[0].backendRefs[0].port",
            message: "Invalid value: must be of type integer"),
        .init(
            spec: #"{"rules":[{"matches":[{"headers":[{"name":"x","value":"1"},{"name":"x","value":"2"}]}]}]}"#,
            path: "spec.rules[0].matches[0].headers[1]", message: "Duplicate value"),
        .init(
            spec: #"{"rules":[\#(Array(repeating: "{}", count: 17).joined(separator: ","))]}"#, path: "spec.rules",
            message: "Too many: 17: must have at most 16 items"),
        .init(
            spec: #"{"rules":[{"name":"\#(String(repeating: "a", count: 254))"}]}"#, path: "spec.rules[0].name",
            message: "Too long: may not be more than 253 bytes"),
        .init(kind: .referenceGrant, spec: #"{"from":[]}"#, path: "spec.to", message: "Required value"),
        .init(
            kind: .referenceGrant, spec: #"{"from":[],"to":[{"group":"","kind":"Service"}]}"#, path: "spec.from",
            message: "Invalid value: 0: must have at least 1 items"),
        .init(
            kind: .grpcRoute, spec: #"{"rules":[{"timeouts":{"request":"1s"}}]}"#, path: "spec.rules[0].timeouts",
            message: "unknown field \"timeouts\""),
    ]

    @Test(arguments: refusals) func refused(_ row: Refusal) throws {
        let resource = ConfigResource(key: ConfigKey(kind: row.kind, namespace: "default", name: "r"), spec: try JSONValue.parse(json: row.spec))
        let error = #expect(throws: MeshModelError.self) { try ConfigValidator.validateForWrite(resource) }
        #expect(error?.field == row.path)
        #expect(error?.message.hasPrefix(row.message) == true, "\(error?.message ?? "")")
    }

    /// The CRDs' defaults are what meshd reads: a path match without a type is a prefix, a rule
    /// without matches matches `/`, a backend has weight 1, a parent is a Gateway, a redirect is 302.
    @Test func defaultsAreApplied() throws {
        let spec = #"""
            {"parentRefs":[{"name":"gw"},{"group":"","kind":"Service","name":"echo"}],
             "rules":[{"backendRefs":[{"name":"echo","port":80}]},
                      {"matches":[{"path":{"value":"/a"},"headers":[{"name":"x","value":"1"}]}],
                       "filters":[{"type":"RequestRedirect","requestRedirect":{"hostname":"example.org"}}]}]}
            """#
        let resource = ConfigResource(key: ConfigKey(kind: .httpRoute, namespace: "default", name: "r"), spec: try JSONValue.parse(json: spec))
        guard case .route(let route) = try ConfigValidator.validateForWrite(resource).config else {
            Issue.record("not a route")
            return
        }
        #expect(route.parentRefs[0].group == "gateway.networking.k8s.io" && route.parentRefs[0].kind == "Gateway")
        #expect(route.parentRefs[1].isService)
        #expect(route.rules[0].matches == [GatewayRoute.Match(path: .prefix("/"))])
        #expect(route.rules[0].backendRefs[0].weight == 1)
        #expect(route.rules[1].matches[0].path == .prefix("/a"))
        #expect(route.rules[1].matches[0].headers == [GatewayRoute.ValueMatch(name: "x", isRegex: false, value: "1")])
        guard case .redirect(let redirect) = route.rules[1].filters[0] else {
            Issue.record("not a redirect")
            return
        }
        #expect(redirect.statusCode == 302)
    }

    /// A regular expression RE2 cannot compile is refused where it is written.
    @Test func regularExpressionsCompileInRE2() throws {
        let spec = #"{"rules":[{"matches":[{"path":{"type":"RegularExpression","value":"/(a"}}]}]}"#
        let resource = ConfigResource(key: ConfigKey(kind: .httpRoute, namespace: "default", name: "r"), spec: try JSONValue.parse(json: spec))
        let error = #expect(throws: MeshModelError.self) { try ConfigValidator.validateForWrite(resource) }
        #expect(error?.field == "spec.rules[0].matches[0].path.value")
    }

    /// The served versions are the release's, and documents are accepted under each.
    @Test func servedVersions() throws {
        #expect(ConfigKind.httpRoute.supportedAPIVersions == ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"])
        #expect(ConfigKind.grpcRoute.supportedAPIVersions == ["gateway.networking.k8s.io/v1"])
        #expect(ConfigKind.referenceGrant.supportedAPIVersions == ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"])
        #expect(ConfigKind.named("httproutes.gateway.networking.k8s.io") == .httpRoute)
        #expect(ConfigKind.named("refgrant") == .referenceGrant)
        let documents = try ConfigDocumentParser.parse(
            """
            apiVersion: gateway.networking.k8s.io/v1beta1
            kind: HTTPRoute
            metadata: {name: r, namespace: ns-1}
            spec: {parentRefs: [{group: "", kind: Service, name: echo}]}
            """)
        #expect(documents.first?.key == ConfigKey(kind: .httpRoute, namespace: "ns-1", name: "r"))
    }

    /// What proxyless gRPC clients cannot honour is answered per field (CORS among them).
    @Test func unhonouredFieldsAreAnswered() throws {
        let spec = #"""
            {"rules":[{"matches":[{"queryParams":[{"name":"a","value":"1"}]}],
                       "filters":[{"type":"CORS","cors":{"allowOrigins":["*"]}},{"type":"URLRewrite","urlRewrite":{"hostname":"x"}}],
                       "backendRefs":[{"name":"echo","port":80}]}]}
            """#
        let resource = ConfigResource(key: ConfigKey(kind: .httpRoute, namespace: "default", name: "r"), spec: try JSONValue.parse(json: spec))
        let answer = try ConfigValidator.validateForWrite(resource)
        #expect(answer.notHonoured.isEmpty)
        #expect(
            answer.clientLimits.map(\.path) == [
                "spec.rules[0].matches[0].queryParams", "spec.rules[0].filters[0].cors", "spec.rules[0].filters[1].urlRewrite",
            ])
        #expect(answer.clientLimits.allSatisfy { $0.kinds == [.proxylessGRPC] })
    }
}

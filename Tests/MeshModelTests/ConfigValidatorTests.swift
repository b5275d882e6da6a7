import Testing

@testable import MeshModel

/// One rule violation: a spec, and the exact field and message Istio-style validation reports.
struct RuleCase: CustomTestStringConvertible, Sendable {
    var kind: String
    var spec: String
    var field: String
    var message: String
    var testDescription: String { "\(kind) \(field): \(message)" }
}

private let route = "- destination: {host: reviews}\n"

@Suite struct ConfigValidatorTests {
    static let virtualServiceCases: [RuleCase] = [
        RuleCase(kind: "VirtualService", spec: "hosts: []", field: "spec.hosts", message: "must not be empty"),
        RuleCase(kind: "VirtualService", spec: "hosts: [\"a b\"]", field: "spec.hosts[0]", message: #"invalid host "a b""#),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- route: []", field: "spec.http[0].route",
            message: "must not be empty (or set redirect or directResponse)"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- redirect: {uri: /new}\n  route:\n  " + route,
            field: "spec.http[0]", message: "must set only one of route, redirect, directResponse"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- redirect: {uri: /new, redirectCode: 304}",
            field: "spec.http[0].redirect.redirectCode", message: "must be one of 301, 302, 303, 307, 308"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- directResponse: {status: 99}",
            field: "spec.http[0].directResponse.status", message: "must be an HTTP status between 200 and 599"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- route:\n  - destination: {subset: v1}",
            field: "spec.http[0].route[0].destination.host", message: "required"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- route:\n  - weight: 1",
            field: "spec.http[0].route[0].destination", message: "required"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- route:\n  " + route + "  - destination: {host: r}\n    weight: -1",
            field: "spec.http[0].route[1].weight", message: "must not be negative"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- route:\n  " + route + "  - destination: {host: r}\n    weight: abc",
            field: "spec.http[0].route[1].weight", message: "expected an integer"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- route:\n  " + route + "  " + route,
            field: "spec.http[0].route", message: "weights must not all be zero"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- route:\n  - destination: {host: r, port: {number: 70000}}",
            field: "spec.http[0].route[0].destination.port.number", message: "must be between 1 and 65535"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- match:\n  - uri: {exact: /a, prefix: /b}\n  route:\n  " + route,
            field: "spec.http[0].match[0].uri", message: "must set exactly one of exact, prefix, regex"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- match:\n  - uri: {regex: \"\"}\n  route:\n  " + route,
            field: "spec.http[0].match[0].uri.regex", message: "must not be empty"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- match:\n  - headers: {End-User: {exact: jason}}\n  route:\n  " + route,
            field: "spec.http[0].match[0].headers.End-User", message: "header name must be lowercase"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- delegate: {name: reviews-v2, namespace: ops}",
            field: "spec.http[0].delegate", message: "delegate is not supported by meshd yet: write the delegated routes into this VirtualService"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- match:\n  - withoutHeaders: {X-User: {exact: a}}\n  route:\n  " + route,
            field: "spec.http[0].match[0].withoutHeaders.X-User", message: "header name must be lowercase"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- match:\n  - queryParams: {q: {regex: \"(\"}}\n  route:\n  " + route,
            field: "spec.http[0].match[0].queryParams.q.regex", message: "invalid RE2 regex: missing ): ("),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- match:\n  - sourceNamespace: Ops\n  route:\n  " + route,
            field: "spec.http[0].match[0].sourceNamespace", message: NameRules.labelRule),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- match:\n  - ignoreUriCase: yes-please\n  route:\n  " + route,
            field: "spec.http[0].match[0].ignoreUriCase", message: "expected a boolean"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- match:\n  - method: {exact: GET, prefix: P}\n  route:\n  " + route,
            field: "spec.http[0].match[0].method", message: "must set exactly one of exact, prefix, regex"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- timeout: 5x\n  route:\n  " + route,
            field: "spec.http[0].timeout", message: #"invalid duration "5x""#),
    ]

    static let otherKindCases: [RuleCase] = [
        RuleCase(kind: "DestinationRule", spec: "subsets: []", field: "spec.host", message: "required"),
        RuleCase(
            kind: "DestinationRule", spec: "host: r\nsubsets:\n- name: v1\n- name: v1", field: "spec.subsets[1].name",
            message: #"duplicate subset "v1""#),
        RuleCase(
            kind: "DestinationRule", spec: "host: r\nsubsets:\n- name: V_1", field: "spec.subsets[0].name",
            message: NameRules.labelRule),
        RuleCase(
            kind: "DestinationRule", spec: "host: r\nsubsets:\n- name: v1\n  labels: {version: 1}",
            field: "spec.subsets[0].labels.version", message: "expected a string"),
        RuleCase(kind: "ServiceEntry", spec: "ports: [{number: 80, name: http}]", field: "spec.hosts", message: "must not be empty"),
        RuleCase(kind: "ServiceEntry", spec: "hosts: [a.com]", field: "spec.ports", message: "must not be empty"),
        RuleCase(
            kind: "ServiceEntry", spec: "hosts: [a.com]\nports: [{number: 80, name: a}, {number: 80, name: b}]",
            field: "spec.ports[1].number", message: "duplicate port 80"),
        RuleCase(
            kind: "ServiceEntry", spec: "hosts: [a.com]\nports: [{number: 80, name: a}, {number: 81, name: a}]",
            field: "spec.ports[1].name", message: #"duplicate port name "a""#),
        RuleCase(
            kind: "ServiceEntry", spec: "hosts: [a.com]\nports: [{number: 0, name: a}]",
            field: "spec.ports[0].number", message: "must be between 1 and 65535"),
        RuleCase(
            kind: "ServiceEntry", spec: "hosts: [a.com]\nports: [{number: 80, name: a, protocol: QUIC}]",
            field: "spec.ports[0].protocol",
            message: #"unsupported protocol "QUIC"; supported: HTTP, HTTPS, GRPC, HTTP2, MONGO, TCP, TLS"#),
        RuleCase(
            kind: "ServiceEntry", spec: "hosts: [a.com]\nports: [{number: 80, name: a}]\nresolution: MAGIC",
            field: "spec.resolution", message: #"invalid resolution "MAGIC"; supported: NONE, STATIC, DNS, DNS_ROUND_ROBIN"#),
        RuleCase(
            kind: "ServiceEntry", spec: "hosts: [a.com]\nports: [{number: 80, name: a}]\nresolution: STATIC\nendpoints: [{address: a.com}]",
            field: "spec.endpoints[0].address", message: "must be an IP address when resolution is STATIC"),
        RuleCase(
            kind: "ServiceEntry",
            spec: "hosts: [a.com]\nports: [{number: 80, name: a}]\nendpoints: [{address: 10.0.0.1}]\nworkloadSelector: {labels: {app: a}}",
            field: "spec.workloadSelector", message: "must not be set together with endpoints"),
        RuleCase(kind: "WorkloadEntry", spec: "ports: {http: 80}", field: "spec.address", message: "required"),
        RuleCase(
            kind: "WorkloadEntry", spec: "address: 10.0.0.1\nports: {http: 65536}", field: "spec.ports.http",
            message: "must be between 1 and 65535"),
    ]

    @Test(arguments: virtualServiceCases + otherKindCases + GatewayValidationTests.cases)
    func ruleViolationsNameTheResourceAndField(_ rule: RuleCase) {
        let error = #expect(throws: MeshModelError.self) { try Fixtures.validate(kind: rule.kind, spec: rule.spec) }
        #expect(error?.code == .invalid)
        #expect(error?.resource == "\(rule.kind) default/reviews")
        #expect(error?.field == rule.field)
        #expect(error?.message == rule.message)
    }

    @Test func errorDescriptionReadsResourceFieldMessage() {
        let spec = "hosts: [r]\nhttp:\n- route:\n  " + route + "  - destination: {host: r}\n    weight: -5"
        let error = #expect(throws: MeshModelError.self) { try Fixtures.validate(kind: "VirtualService", spec: spec) }
        #expect(error?.description == "VirtualService default/reviews: spec.http[0].route[1].weight: must not be negative")
    }

    @Test func aLoneDestinationMayOmitItsWeightAndMatchesDecode() throws {
        let spec = """
            hosts: [reviews]
            http:
            - name: jason
              match:
              - headers: {end-user: {exact: jason}}
                uri: {prefix: /api}
                port: 9080
              route:
              - destination: {host: reviews, subset: v2, port: {number: 9080}}
              timeout: 1.5s
              retries: {attempts: 3, perTryTimeout: 500ms, retryOn: unavailable}
            """
        guard case .virtualService(let vs) = try Fixtures.validate(kind: "VirtualService", spec: spec) else {
            Issue.record("not a VirtualService")
            return
        }
        #expect(
            vs.http == [
                HTTPRoute(
                    name: "jason",
                    match: [HTTPMatchRequest(uri: .prefix("/api"), headers: ["end-user": .value(.exact("jason"))], port: 9080)],
                    route: [HTTPRouteDestination(destination: Destination(host: "reviews", subset: "v2", port: 9080))],
                    timeout: "1.5s",
                    retries: HTTPRetry(attempts: 3, perTryTimeout: "500ms", retryOn: "unavailable"))
            ])
        #expect(IstioDuration.parse("1.5s") == .milliseconds(1500))
    }

    @Test func unknownFieldsAreIgnoredAndQuotedIntegersAccepted() throws {
        let spec =
            "hosts: [r]\ntcp: [{route: [{destination: {host: r}}]}]\nhttp:\n- mirror: {host: m}\n  route:\n  - destination: {host: r}\n    weight: \"100\""
        guard case .virtualService(let vs) = try Fixtures.validate(kind: "VirtualService", spec: spec) else {
            Issue.record("not a VirtualService")
            return
        }
        #expect(vs.http.first?.route.first?.weight == 100)
    }
}

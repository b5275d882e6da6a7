import Testing

@testable import MeshModel

@Suite struct SidecarValidationTests {
    static let cases: [RuleCase] = [
        RuleCase(
            kind: "Sidecar", spec: "egress:\n- hosts: [\"./*\", \"reviews\"]", field: "spec.egress[0].hosts[1]",
            message: #"host "reviews" must be of the form namespace/dnsName (e.g. ./*, prod/reviews.prod.svc.cluster.local)"#),
        RuleCase(
            kind: "Sidecar", spec: "egress:\n- hosts: [\"./reviews\"]", field: "spec.egress[0].hosts[0]",
            message: #"host "./reviews": short names are not allowed; use the fully qualified name"#),
        RuleCase(
            kind: "Sidecar", spec: "egress:\n- hosts: [\"Prod/*\"]", field: "spec.egress[0].hosts[0]",
            message: #"host "Prod/*": invalid namespace "Prod" (use *, ., ~ or a namespace name)"#),
        RuleCase(
            kind: "Sidecar", spec: "egress:\n- hosts: [\"./*foo.com\"]", field: "spec.egress[0].hosts[0]",
            message: #"host "./*foo.com": invalid dnsName "*foo.com" (a wildcard may only be the whole first label)"#),
        RuleCase(
            kind: "Sidecar", spec: "egress:\n- hosts: [\"/a.com\"]", field: "spec.egress[0].hosts[0]",
            message: #"host "/a.com": the namespace and the dnsName must not be empty"#),
        RuleCase(
            kind: "Sidecar", spec: "egress:\n- hosts: []", field: "spec.egress[0].hosts",
            message: "an egress listener must list at least one host"),
        RuleCase(
            kind: "Sidecar", spec: "egress:\n- port: {number: 70000}\n  hosts: [\"./*\"]", field: "spec.egress[0].port.number",
            message: "must be between 1 and 65535"),
        RuleCase(
            kind: "Sidecar", spec: "egress:\n- port: {number: 80}\n  hosts: [\"./*\"]\n- port: {number: 80}\n  hosts: [\"./*\"]",
            field: "spec.egress[1].port.number", message: "duplicate egress port 80"),
        RuleCase(
            kind: "Sidecar", spec: "egress:\n- hosts: [\"./*\"]\n- port: {number: 80}\n  hosts: [\"./*\"]",
            field: "spec.egress[0].port", message: "only the last egress listener may leave out the port (it catches every other port)"),
        RuleCase(
            kind: "Sidecar", spec: "outboundTrafficPolicy: {mode: ALLOW_SOME}", field: "spec.outboundTrafficPolicy.mode",
            message: #"invalid mode "ALLOW_SOME"; supported: REGISTRY_ONLY, ALLOW_ANY"#),
        RuleCase(
            kind: "Sidecar", spec: "workloadSelector: {labels: {app: \"*\"}}\negress:\n- hosts: [\"./*\"]",
            field: "spec.workloadSelector.labels.app", message: "wildcards are not supported in a selector"),
        RuleCase(kind: "Sidecar", spec: "{}", field: "spec", message: "empty configuration: set egress, ingress or outboundTrafficPolicy"),
        RuleCase(kind: "Sidecar", spec: "ingress:\n- defaultEndpoint: 127.0.0.1:8080", field: "spec.ingress[0].port", message: "required"),
        RuleCase(
            kind: "Sidecar", spec: "ingress:\n- port: {number: 9080}\n  defaultEndpoint: 10.0.0.1:8080", field: "spec.ingress[0].defaultEndpoint",
            message: "must be 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT or unix:///absolute/path (or unix://@abstract)"),
        RuleCase(
            kind: "Sidecar", spec: "ingress:\n- port: {number: 9080}\n  defaultEndpoint: \"127.0.0.1:0\"", field: "spec.ingress[0].defaultEndpoint",
            message: "must be 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT or unix:///absolute/path (or unix://@abstract)"),
        RuleCase(
            kind: "Sidecar", spec: "ingress:\n- port: {number: 9080}\n- port: {number: 9080}", field: "spec.ingress[1].port.number",
            message: "duplicate ingress port 9080"),
        RuleCase(
            kind: "Sidecar", spec: "ingress:\n- port: {number: 9080, protocol: QUIC}", field: "spec.ingress[0].port.protocol",
            message: #"unsupported protocol "QUIC"; supported: HTTP, HTTPS, GRPC, HTTP2, MONGO, TCP, TLS"#),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nexportTo: [\"~\"]", field: "spec.exportTo[0]",
            message: #"must be ".", "*" or a namespace name ("~" is only allowed on a ServiceEntry)"#),
        RuleCase(
            kind: "DestinationRule", spec: "host: r\nexportTo: [\"*\", a]", field: "spec.exportTo",
            message: #""*" exports everywhere and cannot be combined with other entries"#),
        RuleCase(
            kind: "DestinationRule", spec: "host: r\nexportTo: [\".\", default]", field: "spec.exportTo[1]",
            message: #"duplicate entry: "." and the resource's own namespace default"#),
        RuleCase(
            kind: "ServiceEntry", spec: "hosts: [a.com]\nports: [{number: 80, name: a}]\nexportTo: [\"~\", a]",
            field: "spec.exportTo", message: #""~" exports to no namespace and cannot be combined with other entries"#),
        RuleCase(
            kind: "ServiceEntry", spec: "hosts: [a.com]\nports: [{number: 80, name: a}]\nexportTo: [a, a]",
            field: "spec.exportTo[1]", message: #"duplicate entry "a""#),
        RuleCase(
            kind: "ServiceEntry", spec: "hosts: [a.com]\nports: [{number: 80, name: a}]\nexportTo: [\"A\"]",
            field: "spec.exportTo[0]", message: #"must be ".", "*", "~" or a namespace name"#),
    ]

    @Test(arguments: cases)
    func violationsNameTheFieldPath(_ rule: RuleCase) throws {
        let text =
            "apiVersion: networking.istio.io/v1\nkind: \(rule.kind)\nmetadata: {name: x, namespace: default}\nspec:\n"
            + rule.spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
        let resource = try #require(try ConfigDocumentParser.parse(text).first)
        #expect(throws: MeshModelError(code: .invalid, resource: "\(rule.kind) default/x", field: rule.field, message: rule.message)) {
            _ = try ConfigValidator.validate(resource)
        }
    }

    @Test func everyHostFormParses() throws {
        let forms = [
            "./*", "*/*", "prod/*", "prod/*.example.com", "*/api.example.com", "./reviews.default.svc.cluster.local",
            "~/*", "~/api.example.com", "~prod/*",
        ]
        let text = """
            apiVersion: networking.istio.io/v1alpha3
            kind: Sidecar
            metadata: {name: x, namespace: default}
            spec:
              egress:
              - port: {number: 9080, protocol: GRPC, name: grpc}
                hosts: [\(forms.map { "\"\($0)\"" }.joined(separator: ", "))]
              outboundTrafficPolicy: {mode: ALLOW_ANY}
            """
        let resource = try #require(try ConfigDocumentParser.parse(text).first)
        guard case .sidecar(let sidecar) = try ConfigValidator.validate(resource) else {
            Issue.record("not a Sidecar")
            return
        }
        #expect(sidecar.egress[0].hosts.map(\.description) == forms)
        #expect(sidecar.egress[0].port == 9080)
        #expect(sidecar.outboundTrafficPolicy == .allowAny)
        #expect(ConfigKind.named("sidecars") == .sidecar)
    }

    @Test func ingressListenersParse() throws {
        let text = """
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: x, namespace: default}
            spec:
              ingress:
              - {port: {number: 9080, protocol: HTTP, name: http}, defaultEndpoint: "127.0.0.1:8080"}
              - {port: {number: 9090, name: grpc-admin}, defaultEndpoint: "[::]:9091"}
              - {port: {number: 5000, protocol: TCP}, defaultEndpoint: "unix:///var/run/app.sock"}
              - {port: {number: 7000}}
            """
        let resource = try #require(try ConfigDocumentParser.parse(text).first)
        guard case .sidecar(let sidecar) = try ConfigValidator.validate(resource) else {
            Issue.record("not a Sidecar")
            return
        }
        #expect(
            sidecar.ingress == [
                SidecarIngress(port: 9080, protocol: "HTTP", name: "http", endpoint: .socket(address: "127.0.0.1", port: 8080)),
                SidecarIngress(port: 9090, name: "grpc-admin", endpoint: .socket(address: "::1", port: 9091)),
                SidecarIngress(port: 5000, protocol: "TCP", endpoint: .pipe("/var/run/app.sock")),
                SidecarIngress(port: 7000, endpoint: .socket(address: "127.0.0.1", port: 7000)),
            ])
    }
}

import Testing

@testable import MeshModel

private let http = "{port: {number: 80, name: http, protocol: HTTP}, hosts: [\"*\"]}"

/// Istio's Gateway validation, rule by rule, each with its field path (messages as istiod's);
/// `ConfigValidatorTests` runs the cases.
@Suite struct GatewayValidationTests {
    static let cases: [RuleCase] = [
        RuleCase(kind: "Gateway", spec: "servers: []", field: "spec.servers", message: "gateway must have at least one server"),
        RuleCase(
            kind: "Gateway", spec: "servers: [{port: {number: 80, name: http, protocol: HTTP}}]", field: "spec.servers[0].hosts",
            message: "server config must contain at least one host"),
        RuleCase(
            kind: "Gateway", spec: "servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [foo]}]",
            field: "spec.servers[0].hosts[0]", message: #"host "foo": short names (non FQDN) are not allowed"#),
        RuleCase(
            kind: "Gateway", spec: "servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [\"Prod/a.com\"]}]",
            field: "spec.servers[0].hosts[0]", message: #"host "Prod/a.com": invalid namespace value "Prod" in gateway"#),
        RuleCase(
            kind: "Gateway", spec: "servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [\"~/a.com\"]}]",
            field: "spec.servers[0].hosts[0]", message: #"host "~/a.com": invalid namespace value "~" in gateway"#),
        RuleCase(
            kind: "Gateway", spec: "servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [\"/a.com\"]}]",
            field: "spec.servers[0].hosts[0]", message: #"host "/a.com": config namespace and dnsName in host entry cannot be empty"#),
        RuleCase(
            kind: "Gateway", spec: "servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [\"*foo.com\"]}]",
            field: "spec.servers[0].hosts[0]", message: #"host "*foo.com": invalid dnsName "*foo.com" (a wildcard may only be the whole first label)"#
        ),
        RuleCase(
            kind: "Gateway", spec: "servers: [\(http), \(http)]", field: "spec.servers[1].port.name",
            message: "port names in servers must be unique: duplicate name http"),
        RuleCase(
            kind: "Gateway", spec: "servers: [{port: {number: 80, name: http, protocol: QUIC}, hosts: [\"*\"]}]",
            field: "spec.servers[0].port.protocol",
            message: #"invalid protocol "QUIC"; supported: HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, MONGO, REDIS, MYSQL"#),
        RuleCase(
            kind: "Gateway", spec: "servers: [{port: {number: 80, protocol: HTTP}, hosts: [\"*\"]}]", field: "spec.servers[0].port.name",
            message: "required"),
        RuleCase(
            kind: "Gateway", spec: "servers: [{port: {number: 0, name: h, protocol: HTTP}, hosts: [\"*\"]}]",
            field: "spec.servers[0].port.number", message: "must be between 1 and 65535"),
        RuleCase(
            kind: "Gateway", spec: "servers: [{port: {number: 80, name: h, protocol: HTTP, targetPort: 8080}, hosts: [\"*\"]}]",
            field: "spec.servers[0].port.targetPort", message: "targetPort has no impact on Gateways"),
        RuleCase(
            kind: "Gateway", spec: "servers: [{port: {number: 443, name: h, protocol: HTTPS}, hosts: [\"*\"]}]",
            field: "spec.servers[0].tls", message: "server must have TLS settings for HTTPS/TLS protocols"),
        RuleCase(
            kind: "Gateway", spec: "servers: [{port: {number: 80, name: h, protocol: HTTP}, hosts: [\"*\"], tls: {mode: SIMPLE, credentialName: c}}]",
            field: "spec.servers[0].tls", message: "server cannot have TLS settings for plain text HTTP ports"),
        RuleCase(
            kind: "Gateway", spec: "servers: [{port: {number: 9000, name: t, protocol: TCP}, hosts: [\"*\"], tls: {httpsRedirect: true}}]",
            field: "spec.servers[0].tls", message: "server cannot have TLS settings for non HTTPS/TLS ports"),
        RuleCase(
            kind: "Gateway", spec: "servers: [{port: {number: 443, name: h, protocol: HTTPS}, hosts: [\"*\"], tls: {mode: SIMPLE}}]",
            field: "spec.servers[0].tls.serverCertificate", message: "SIMPLE TLS requires a server certificate"),
        RuleCase(
            kind: "Gateway",
            spec:
                "servers: [{port: {number: 443, name: h, protocol: HTTPS}, hosts: [\"*\"], tls: {mode: MUTUAL, serverCertificate: /c, privateKey: /k}}]",
            field: "spec.servers[0].tls.caCertificates", message: "MUTUAL TLS requires a client CA bundle"),
        RuleCase(
            kind: "Gateway",
            spec: "servers: [{port: {number: 443, name: h, protocol: HTTPS}, hosts: [\"*\"], tls: {mode: ISTIO_MUTUAL, credentialName: c}}]",
            field: "spec.servers[0].tls.credentialName", message: "ISTIO_MUTUAL TLS cannot have associated credentialName"),
        RuleCase(
            kind: "Gateway",
            spec:
                "servers: [{port: {number: 443, name: h, protocol: HTTPS}, hosts: [\"*\"], tls: {mode: SIMPLE, credentialName: c, serverCertificate: /c, privateKey: /k}}]",
            field: "spec.servers[0].tls.credentialName",
            message: "only one of credential_name, credential_names, server_certificate/private_key, tls_certificates should be specified"),
        RuleCase(
            kind: "Gateway",
            spec: "servers: [{port: {number: 443, name: h, protocol: HTTPS}, hosts: [\"*\"], tls: {mode: SIMPLE, credentialName: c, caCrl: /crl}}]",
            field: "spec.servers[0].tls.caCrl", message: "CRL is not supported with credentialName. CRL has to be specified in the credential"),
        RuleCase(
            kind: "Gateway", spec: "servers: [{port: {number: 443, name: h, protocol: HTTPS}, hosts: [\"*\"], tls: {mode: SOMETIMES}}]",
            field: "spec.servers[0].tls.mode",
            message: #"invalid mode "SOMETIMES"; supported: PASSTHROUGH, SIMPLE, MUTUAL, AUTO_PASSTHROUGH, ISTIO_MUTUAL, OPTIONAL_MUTUAL"#),
        RuleCase(
            kind: "Gateway", spec: "servers: [{port: {number: 80, name: h, protocol: HTTP}, hosts: [\"*\"], bind: not-an-ip}]",
            field: "spec.servers[0].bind", message: #""not-an-ip" is not a valid IP address (meshd's gateways bind to IP addresses)"#),
    ]

    @Test func aGatewayNameIsADNSLabel() throws {
        let text = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: a.b, namespace: default}\nspec:\n  servers: [\(http)]"
        let resource = try #require(try ConfigDocumentParser.parse(text).first)
        #expect(throws: MeshModelError.self) { _ = try ConfigValidator.validate(resource) }
    }

    @Test func istiosFormsParseAndWarnWhereIstioWarns() throws {
        let text = """
            apiVersion: networking.istio.io/v1beta1
            kind: Gateway
            metadata: {name: edge, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 80, name: http, protocol: http}
                hosts: ["./a.example.com", "prod/*.example.com", "*/b.example.com", "c.example.com", "*", 10.0.0.1]
                tls: {httpsRedirect: true}
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: ["*.example.com"]
                tls: {mode: SIMPLE, credentialName: edge-cert, minProtocolVersion: TLSV1_1, cipherSuites: [NOT-A-SUITE, AES128-SHA, AES128-SHA]}
              - port: {number: 15443, name: tls, protocol: TLS}
                hosts: ["*.local"]
                tls: {mode: AUTO_PASSTHROUGH}
            """
        let resource = try #require(try ConfigDocumentParser.parse(text).first)
        guard case .gateway(let gateway) = try ConfigValidator.validate(resource) else {
            Issue.record("not a Gateway")
            return
        }
        #expect(gateway.servers.map(\.port.protocol) == [.http, .https, .tls])
        #expect(
            gateway.servers[0].hosts.map(\.description) == [
                "./a.example.com", "prod/*.example.com", "*/b.example.com", "*/c.example.com", "*/*", "*/10.0.0.1",
            ])
        #expect(gateway.servers[0].tls?.mode == .passthrough && gateway.servers[0].tls?.httpsRedirect == true)
        #expect(ServerTLSSettings.usableCipherSuites(gateway.servers[1].tls?.cipherSuites ?? []) == ["AES128-SHA"])
        #expect(
            gateway.advisories.map(\.message) == [
                "ignoring invalid cipher suites: [NOT-A-SUITE]", "ignoring duplicate cipher suites: [AES128-SHA]",
                "AUTO_PASSTHROUGH routes by SNI to clusters across networks; meshd serves one network, so it is served as PASSTHROUGH (routed by bound VirtualServices' tls rules)",
            ])
        #expect(ConfigKind.named("gw") == .gateway)
        #expect(ConfigKind.named("gateways.networking.istio.io") == .gateway)
    }
}

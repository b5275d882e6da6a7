import Testing

@testable import MeshModel

@Suite struct IstioSchemaTests {
    private func write(_ kind: String, _ spec: String) throws -> [String] {
        let resource = try ConfigDocumentParser.parse(Fixtures.document(kind: kind, spec: spec))[0]
        return try ConfigValidator.validateForWrite(resource).notHonoured.map(\.path)
    }

    private func refusal(_ kind: String, _ spec: String) -> MeshModelError? {
        do {
            _ = try write(kind, spec)
            return nil
        } catch let error as MeshModelError {
            return error
        } catch {
            return nil
        }
    }

    /// A misspelled field anywhere under spec — in a list, in a map value, at the top — is
    /// refused at its full path, named.
    @Test(arguments: [
        ("VirtualService", "hosts: [r]\nhttp:\n- route:\n  - destination: {host: r}\n    weigth: 100", "spec.http[0].route[0].weigth", "weigth"),
        (
            "VirtualService", "hosts: [r]\nhttp:\n- match:\n  - headers: {x-user: {exakt: a}}\n  route:\n  - destination: {host: r}",
            "spec.http[0].match[0].headers.x-user.exakt", "exakt"
        ),
        ("VirtualService", "hosts: [r]\nhttpRoutes: []", "spec.httpRoutes", "httpRoutes"),
        (
            "DestinationRule", "host: r\ntrafficPolicy:\n  connectionPool: {tcp: {maxConnexions: 1}}",
            "spec.trafficPolicy.connectionPool.tcp.maxConnexions", "maxConnexions"
        ),
        ("ServiceEntry", "hosts: [r.example.com]\nports: [{number: 80, name: http, protocoll: HTTP}]", "spec.ports[0].protocoll", "protocoll"),
        ("WorkloadEntry", "address: 10.0.0.1\nlabel: {app: r}", "spec.label", "label"),
        ("Sidecar", "egress:\n- hosts: [\"./*\"]\n  hostz: []", "spec.egress[0].hostz", "hostz"),
    ])
    func anUnknownFieldIsRefusedAtItsPath(kind: String, spec: String, path: String, name: String) throws {
        let error = try #require(refusal(kind, spec))
        #expect(error.code == .invalid)
        #expect(error.field == path)
        #expect(error.message == "unknown field \"\(name)\"")
    }

    /// Fields of Istio's schema that meshd does not translate yet are accepted, each named once
    /// at its outermost path, never refused.
    @Test func fieldsNotYetTranslatedAreAcceptedAndNamed() throws {
        let rule =
            "host: r\ntrafficPolicy:\n  tls: {mode: ISTIO_MUTUAL, credentialName: c}\n  connectionPool: {http: {http2MaxRequests: 1}}\n  outlierDetection: {consecutive5xxErrors: 1}"
        #expect(try write("DestinationRule", rule) == ["spec.trafficPolicy.tls.credentialName"])
        let routes =
            "hosts: [r]\ngateways: [mesh]\nhttp:\n- fault: {abort: {httpStatus: 503, percentage: {value: 100}}}\n  match: [{statPrefix: s}]\n  mirror: {host: r}\n  route:\n  - destination: {host: r}"
        #expect(try write("VirtualService", routes) == ["spec.http[0].match[0].statPrefix"])
        // Ingress ports and endpoints are translated (Envoy sidecars); binds are not yet.
        let sidecar =
            "ingress:\n- port: {number: 9080, protocol: HTTP, name: http}\n  defaultEndpoint: 127.0.0.1:8080\n  bind: 0.0.0.0\negress:\n- captureMode: NONE\n  hosts: [\"./*\"]"
        #expect(try write("Sidecar", sidecar) == ["spec.egress[0].captureMode", "spec.ingress[0].bind"])
        #expect(try write("VirtualService", "hosts: [r]\nexportTo: [\".\"]\nhttp:\n- route:\n  - destination: {host: r}").isEmpty)
        // Enum values: honoured for some values only.
        #expect(try write("ServiceEntry", "hosts: [r.example.com]\nresolution: STATIC\nports: [{number: 80, name: http}]").isEmpty)
        #expect(try write("ServiceEntry", "hosts: [r.example.com]\nresolution: DNS\nports: [{number: 80, name: http}]").isEmpty)
        #expect(
            try write("DestinationRule", "host: r\ntrafficPolicy: {loadBalancer: {zoneAwareLbSetting: {enabled: true}}}")
                == ["spec.trafficPolicy.loadBalancer.zoneAwareLbSetting"])
    }

    /// Every honoured pattern names a field of Istio's schema (a typo there would turn a
    /// translated field into a warned one, or hide a subtree).
    @Test(arguments: ["VirtualService", "DestinationRule", "ServiceEntry", "WorkloadEntry", "Sidecar"])
    func everyHonouredPatternIsInTheSchema(kind: String) throws {
        let root = try #require(IstioSchema.generatedRoots[kind])
        for pattern in HonouredFields.of(kind) {
            var node = SchemaNode.message(root)
            let field = pattern.split(separator: "=")[0]
            for name in field.split(separator: ".") where name != "*" {
                var current = node
                while true {
                    switch current {
                    case .list(let inner), .map(let inner):
                        current = inner
                        continue
                    default: break
                    }
                    break
                }
                guard case .message(let message) = current, let child = IstioSchema.messages[message]?[String(name)] else {
                    Issue.record("\(kind): \(pattern) is not in Istio's schema")
                    break
                }
                node = child
            }
        }
    }
}

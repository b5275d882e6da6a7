import Testing

@testable import MeshModel

/// Istio's resolution rules for ServiceEntry writes, and the registry's health annotation.
@Suite struct ServiceEntryResolutionTests {
    private func writeRefusal(_ yaml: String) throws -> MeshModelError? {
        let resource = try #require(try ConfigDocumentParser.parse(yaml).first)
        do {
            _ = try ConfigValidator.validateForWrite(resource)
            return nil
        } catch {
            return error
        }
    }

    private func entry(_ body: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: api, namespace: default}
        spec:
          hosts: [api.example.com]
          ports: [{number: 443, name: grpc, protocol: GRPC}]
        \(body.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    @Test(arguments: [
        ("endpoints: [{address: 10.0.0.1}]", "spec.endpoints", "no endpoints should be provided for resolution type none"),
        ("resolution: NONE\nendpoints: [{address: 10.0.0.1}]", "spec.endpoints", "resolution type none"),
        ("resolution: DNS_ROUND_ROBIN\nendpoints: [{address: a.example.net}, {address: b.example.net}]", "spec.endpoints", "0 or 1 endpoint"),
        ("resolution: DNS\naddresses: [10.0.0.0/24]", "spec.addresses[0]", "CIDR addresses are allowed only for NONE/STATIC"),
    ])
    func resolutionRulesRefuseWritesAtTheirPath(body: String, path: String, message: String) throws {
        let error = try #require(try writeRefusal(entry(body)))
        #expect(error.field == path)
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test func wildcardHostsNeedEndpointsWithDNS() throws {
        let yaml = """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: api, namespace: default}
            spec: {hosts: ["*.example.com"], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}
            """
        let error = try #require(try writeRefusal(yaml))
        #expect(error.field == "spec.hosts[0]" && error.message.contains("FQDN"))
    }

    @Test(arguments: [
        "resolution: STATIC\nendpoints: [{address: 10.0.0.1}]", "resolution: DNS\nendpoints: [{address: a.example.net}, {address: 10.0.0.2}]",
        "resolution: NONE\naddresses: [10.0.0.0/24]", "resolution: DNS_ROUND_ROBIN",
    ])
    func validResolutionsAreAccepted(body: String) throws {
        #expect(try writeRefusal(entry(body)) == nil)
    }

    @Test func anUnknownHealthAnnotationIsRefusedNamingIt() throws {
        let yaml = """
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata: {name: w, namespace: default, annotations: {meshd.io/health: sick}}
            spec: {address: 10.0.0.1}
            """
        let error = try #require(try writeRefusal(yaml))
        #expect(error.field == "metadata.annotations[\"meshd.io/health\"]" && error.message.contains("HEALTHY, UNHEALTHY, DRAINING"))
        #expect(try writeRefusal(yaml.replacingOccurrences(of: "sick", with: "draining")) == nil)
    }
}

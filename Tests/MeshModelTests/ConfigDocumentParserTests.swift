import Testing

@testable import MeshModel

@Suite struct ConfigDocumentParserTests {
    @Test func canaryYAMLParsesAndValidatesIntoTypedConfig() throws {
        let resources = try ConfigDocumentParser.parse(Fixtures.canaryYAML)
        #expect(
            resources.map(\.key.description) == [
                "ServiceEntry default/reviews", "WorkloadEntry default/reviews-v1", "WorkloadEntry default/reviews-v2",
                "DestinationRule default/reviews", "VirtualService default/reviews",
            ])
        #expect(
            resources.map(\.apiVersion)[2...] == [
                "networking.istio.io/v1beta1", "networking.istio.io/v1",
                "networking.istio.io/v1alpha3",
            ])
        #expect(resources[1].labels == ["app": "reviews"])

        let typed = try resources.map { try ConfigValidator.validate($0) }
        guard case .serviceEntry(let se) = typed[0], case .workloadEntry(let v1) = typed[1],
            case .workloadEntry(let v2) = typed[2], case .destinationRule(let dr) = typed[3],
            case .virtualService(let vs) = typed[4]
        else {
            Issue.record("unexpected kinds: \(typed.map(\.kind))")
            return
        }
        #expect(se.hosts == ["reviews"])
        #expect(se.ports == [ServicePort(number: 9080, protocol: "GRPC", name: "grpc")])
        #expect(se.resolution == "STATIC")
        #expect(se.workloadSelector == ["app": "reviews"])
        #expect(v1 == WorkloadEntry(address: "127.0.0.1", ports: ["grpc": 9081], labels: ["app": "reviews", "version": "v1"]))
        #expect(v2.labels["version"] == "v2")
        #expect(dr.host == "reviews")
        #expect(dr.subsets == [Subset(name: "v1", labels: ["version": "v1"]), Subset(name: "v2", labels: ["version": "v2"])])
        #expect(vs.hosts == ["reviews"])
        #expect(
            vs.http.first?.route == [
                HTTPRouteDestination(destination: Destination(host: "reviews", subset: "v1"), weight: 50),
                HTTPRouteDestination(destination: Destination(host: "reviews", subset: "v2"), weight: 50),
            ])
    }

    @Test(arguments: [
        #"{"apiVersion":"networking.istio.io/v1","kind":"DestinationRule","metadata":{"name":"reviews"},"spec":{"host":"reviews"}}"#,
        #"[{"apiVersion":"networking.istio.io/v1","kind":"DestinationRule","metadata":{"name":"reviews"},"spec":{"host":"reviews"}}]"#,
        #"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"networking.istio.io/v1","kind":"DestinationRule","metadata":{"name":"reviews"},"spec":{"host":"reviews"}}]}"#,
    ])
    func jsonObjectArrayAndListAreAccepted(body: String) throws {
        let resources = try ConfigDocumentParser.parse(body)
        #expect(
            resources == [
                ConfigResource(
                    key: ConfigKey(kind: .destinationRule, namespace: "default", name: "reviews"),
                    spec: ["host": "reviews"])
            ])
    }

    @Test func yamlScalarsKeepTheirTypesAndEmptyDocumentsAreSkipped() throws {
        let body = """
            ---
            # nothing here
            ---
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata: {name: w, namespace: prod}
            spec:
              address: 10.0.0.1
              ports: {http: 8080}
              labels: {version: v1, release: "1.0"}
              weight: 3
            ---
            """
        let resources = try ConfigDocumentParser.parse(body)
        #expect(resources.count == 1)
        #expect(resources[0].key == ConfigKey(kind: .workloadEntry, namespace: "prod", name: "w"))
        #expect(resources[0].spec["ports"]?["http"] == .number(8080))
        #expect(resources[0].spec["labels"] == ["version": "v1", "release": "1.0"])
        #expect(
            resources[0].spec.canonicalJSON()
                == #"{"address":"10.0.0.1","labels":{"release":"1.0","version":"v1"},"ports":{"http":8080},"weight":3}"#)
    }

    @Test func resourceRoundTripsThroughItsJSONForm() throws {
        let resource = try ConfigDocumentParser.parse(Fixtures.canaryYAML)[4]
        let json = resource.toJSONValue(resourceVersion: 7)
        #expect(json["metadata"]?["resourceVersion"] == "7")
        #expect(json["metadata"]?["labels"] == nil)
        #expect(try ConfigDocumentParser.parse(json.canonicalJSON()) == [resource])
    }

    @Test func aDocumentThatIsNotAMappingIsMalformed() {
        let error = #expect(throws: MeshModelError.self) {
            try ConfigDocumentParser.parse(Fixtures.document(kind: "DestinationRule", spec: "host: a") + "\n---\n- a\n- b\n")
        }
        #expect(error?.code == .malformed)
        #expect(error?.description == "document 2: expected a mapping")
    }

    @Test func yamlSyntaxErrorsAreMalformedWithTheirLine() {
        let error = #expect(throws: MeshModelError.self) {
            try ConfigDocumentParser.parse("kind: VirtualService\nmetadata:\n  name: [unclosed\n")
        }
        #expect(error?.code == .malformed)
        #expect(error?.message.hasPrefix("invalid YAML at line 4") == true)
    }

    @Test func malformedJSONReportsItsPosition() {
        let error = #expect(throws: MeshModelError.self) {
            try ConfigDocumentParser.parse("{\n  \"kind\": \"VirtualService\",\n  \"metadata\": {\"name\" \"x\"}\n}")
        }
        #expect(error?.code == .malformed)
        #expect(error?.message == "invalid JSON at line 3, column 23: expected ':' after an object key")
    }

    @Test func unknownKindsAreNamed() {
        let error = #expect(throws: MeshModelError.self) {
            try ConfigDocumentParser.parse(Fixtures.document(kind: "EnvoyFilter", spec: "configPatches: []"))
        }
        #expect(error?.code == .unknownKind)
        #expect(
            error?.description == #"document 1: kind: unknown kind "EnvoyFilter"; supported: "#
                + "AuthorizationPolicy, Canary, DestinationRule, GRPCRoute, Gateway, HTTPRoute, PeerAuthentication, ReferenceGrant, "
                + "RequestAuthentication, ServiceEntry, Sidecar, Telemetry, VirtualService, WorkloadEntry"
        )
    }

    @Test func wrongAPIVersionIsInvalid() {
        let body = Fixtures.document(kind: "VirtualService", spec: "hosts: [a]")
            .replacing("networking.istio.io/v1", with: "networking.istio.io/v2", maxReplacements: 1)
        let error = #expect(throws: MeshModelError.self) { try ConfigDocumentParser.parse(body) }
        #expect(error?.code == .invalid)
        #expect(error?.resource == "VirtualService default/reviews")
        #expect(error?.field == "apiVersion")
        #expect(error?.message.hasPrefix(#"unsupported apiVersion "networking.istio.io/v2"; supported: "#) == true)
    }

    @Test(arguments: [
        ("metadata: {namespace: default}", "metadata.name", "required"),
        ("metadata: {name: Reviews}", "metadata.name", NameRules.subdomainRule),
        ("metadata: {name: r, namespace: a.b}", "metadata.namespace", NameRules.labelRule),
        ("metadata: {name: r, labels: {version: 2}}", "metadata.labels.version", "expected a string"),
        ("metadata: {name: r}\nspec: [1]", "spec", "expected an object"),
    ])
    func envelopeRules(metadata: String, field: String, message: String) {
        let error = #expect(throws: MeshModelError.self) {
            try ConfigDocumentParser.parse("apiVersion: networking.istio.io/v1\nkind: DestinationRule\n" + metadata)
        }
        #expect(error?.field == field)
        #expect(error?.message == message)
    }
}

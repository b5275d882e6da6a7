import Testing

@testable import MeshModel

struct CanaryValidationTests {
    func resource(_ spec: String) throws -> ConfigResource {
        ConfigResource(key: ConfigKey(kind: .canary, namespace: "default", name: "reviews"), spec: try JSONValue.parse(json: spec))
    }

    func error(_ spec: String) throws -> MeshModelError? {
        let resource = try resource(spec)
        return #expect(throws: MeshModelError.self) { try ConfigValidator.validateForWrite(resource) }
    }

    @Test func aFullSpecReadsWithItsDefaults() throws {
        let written = try ConfigValidator.validateForWrite(
            try resource(
                #"{"host":"reviews","from":"v1","to":"v2","steps":[10,25,50,100],"interval":"1m","analysis":{"maxErrorRate":"0.5%","maxP99":"500ms"}}"#
            ))
        guard case .canary(let spec) = written.config else {
            Issue.record("not a canary")
            return
        }
        #expect(written.notHonoured.isEmpty)
        #expect(spec.steps == [10, 25, 50, 100])
        #expect(spec.intervalSeconds == 60)
        #expect(spec.analysis.maxErrorPercent == 0.5)
        #expect(spec.analysis.maxP99 == .milliseconds(500))
        #expect(spec.analysis.minRequests == 100)
        #expect(spec.analysis.source == .any)
        #expect(spec.resolvedHost(namespace: "default") == "reviews.default.svc.cluster.local")
    }

    @Test func unknownFieldsAreRefusedAtTheirPath() throws {
        let error = try error(#"{"host":"reviews","from":"v1","to":"v2","steps":[50],"interval":"10s","analysis":{"maxErorRate":1}}"#)
        #expect(error?.field == "spec.analysis.maxErorRate")
        #expect(error?.message == #"unknown field "maxErorRate""#)
    }

    static let badSpecs: [(String, String)] = [
        (#"{"from":"v1","to":"v2","steps":[50],"interval":"10s"}"#, "spec.host"),
        (#"{"host":"*.example.com","from":"v1","to":"v2","steps":[50],"interval":"10s"}"#, "spec.host"),
        (#"{"host":"reviews","from":"v1","to":"v1","steps":[50],"interval":"10s"}"#, "spec.to"),
        (#"{"host":"reviews","from":"v1","to":"v2","steps":[],"interval":"10s"}"#, "spec.steps"),
        (#"{"host":"reviews","from":"v1","to":"v2","steps":[50,25],"interval":"10s"}"#, "spec.steps[1]"),
        (#"{"host":"reviews","from":"v1","to":"v2","steps":[0],"interval":"10s"}"#, "spec.steps[0]"),
        (#"{"host":"reviews","from":"v1","to":"v2","steps":[101],"interval":"10s"}"#, "spec.steps[0]"),
        (#"{"host":"reviews","from":"v1","to":"v2","steps":[50],"interval":"1s"}"#, "spec.interval"),
        (#"{"host":"reviews","from":"v1","to":"v2","steps":[50],"interval":"1500ms"}"#, "spec.interval"),
        (#"{"host":"reviews","from":"v1","to":"v2","steps":[50]}"#, "spec.interval"),
        (#"{"host":"reviews","from":"v1","to":"v2","steps":[50],"interval":"10s","analysis":{"maxErrorRate":"101%"}}"#, "spec.analysis.maxErrorRate"),
        (#"{"host":"reviews","from":"v1","to":"v2","steps":[50],"interval":"10s","analysis":{"minRequests":-1}}"#, "spec.analysis.minRequests"),
        (#"{"host":"reviews","from":"v1","to":"v2","steps":[50],"interval":"10s","analysis":{"source":"sidecar"}}"#, "spec.analysis.source"),
    ]

    @Test(arguments: badSpecs)
    func badSpecsNameTheField(spec: String, field: String) throws {
        #expect(try error(spec)?.field == field)
    }

    @Test func aStatusRoundTripsAndIsKeptOnlyForCanaries() throws {
        let status = CanaryStatus(
            phase: .progressing, step: 1, weight: 25, baseRevision: 7, virtualServiceDigest: "00ff",
            stepStartedAt: .init(timeIntervalSince1970: 1_800_000_000),
            message: "step 2",
            decisions: [
                .init(
                    time: .init(timeIntervalSince1970: 1_800_000_000), verb: .advance, weight: 25, reason: "ok",
                    observed: .init(source: "client", requests: 120, errorPercent: 0, p99Ms: 4.5, windowSeconds: 10))
            ])
        #expect(try CanaryStatus(json: status.json, resource: "Canary default/reviews") == status)
        var resource = try resource(#"{"host":"reviews","from":"v1","to":"v2","steps":[50],"interval":"10s"}"#)
        resource.status = status.json
        #expect(resource.toJSONValue(resourceVersion: 3)["status"]?["phase"] == .string("Progressing"))
        #expect(ConfigKind.canary.hasStatus && !ConfigKind.virtualService.hasStatus)
        #expect(ConfigKind.named("canaries.meshd.io") == .canary)
        #expect(ConfigKind.canary.supportedAPIVersions == ["meshd.io/v1alpha1"])
    }
}

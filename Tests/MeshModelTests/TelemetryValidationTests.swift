import Testing

@testable import MeshModel

/// Telemetry (telemetry.istio.io) on write: Istio's rules, meshd's per-kind warnings.
@Suite struct TelemetryValidationTests {
    private func resource(_ spec: String, apiVersion: String = "telemetry.istio.io/v1") throws -> ConfigResource {
        let text =
            "apiVersion: \(apiVersion)\nkind: Telemetry\nmetadata: {name: t, namespace: default}\nspec:\n"
            + spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
        return try ConfigDocumentParser.parse(text)[0]
    }

    private func write(_ spec: String) throws -> (notHonoured: [String], clientLimits: [String]) {
        let result = try ConfigValidator.validateForWrite(resource(spec))
        return (result.notHonoured.map(\.path), result.clientLimits.map { "\($0.path): \($0.message)" })
    }

    private func refusal(_ spec: String) -> String? {
        do {
            _ = try write(spec)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func readsEverySectionUnderBothVersions() throws {
        for version in ["telemetry.istio.io/v1", "telemetry.istio.io/v1alpha1"] {
            let config = try ConfigValidator.validate(
                resource(
                    """
                    selector: {matchLabels: {app: reviews}}
                    accessLogging:
                    - providers: [{name: stdout}]
                      match: {mode: SERVER}
                      filter: {expression: "response.code >= 500 && request.url_path.startsWith('/api')"}
                    tracing:
                    - providers: [{name: zipkin}]
                      randomSamplingPercentage: 0.5
                      customTags: {team: {literal: {value: a}}}
                    metrics:
                    - overrides: [{match: {metric: REQUEST_COUNT}, tagOverrides: {x: {operation: REMOVE}}}]
                    """, apiVersion: version))
            guard case .telemetry(let telemetry) = config else {
                Issue.record("not a Telemetry")
                return
            }
            #expect(telemetry.selector == ["app": "reviews"])
            #expect(
                telemetry.accessLogging == [
                    .init(mode: .server, providers: ["stdout"], filter: "response.code >= 500 && request.url_path.startsWith('/api')")
                ])
            #expect(telemetry.tracing == [.init(providers: ["zipkin"], randomSamplingPercentage: 0.5, customTags: ["team": .literal("a")])])
            #expect(telemetry.metrics == [.init(overrideCount: 1)])
        }
        #expect(ConfigKind.named("telemetries.telemetry.istio.io") == .telemetry && ConfigKind.named("telemetry") == .telemetry)
    }

    @Test(arguments: [
        (
            "selector: {matchLabels: {a: b}}\ntargetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: g}]", "spec.selector",
            "only one of targetRefs or selector"
        ),
        ("accessLogging:\n- providers: [{name: ''}]", "spec.accessLogging[0].providers[0].name", "required"),
        ("accessLogging:\n- filter: {expression: 'response.code >= (400'}", "spec.accessLogging[0].filter.expression", "unclosed"),
        ("accessLogging:\n- filter: {expression: \"request.host == 'a\"}", "spec.accessLogging[0].filter.expression", "unterminated"),
        ("accessLogging:\n- match: {mode: BOTH}", "spec.accessLogging[0].match.mode", "invalid mode"),
        ("tracing:\n- randomSamplingPercentage: 101", "spec.tracing[0].randomSamplingPercentage", "[0.0, 100.0]"),
        ("tracing:\n- customTags: {a: {literal: {value: ''}}}", "spec.tracing[0].customTags.a.literal.value", "literal tag value may not be empty"),
        ("tracing:\n- customTags: {a: {}}", "spec.tracing[0].customTags.a", "must set one of"),
        (
            "metrics:\n- overrides: [{tagOverrides: {x: {operation: UPSERT}}}]", "spec.metrics[0].overrides[0].tagOverrides.x.value",
            "value must be set when operation is UPSERT"
        ),
        (
            "metrics:\n- overrides: [{tagOverrides: {x: {operation: REMOVE, value: v}}}]", "spec.metrics[0].overrides[0].tagOverrides.x.value",
            "must not be set"
        ),
        ("metrics:\n- overrides: [{match: {metric: REQUESTS}}]", "spec.metrics[0].overrides[0].match.metric", "invalid metric"),
        ("tracing:\n- sampling: 5", "spec.tracing[0].sampling", "unknown field"),
    ])
    func refusesWhatIstioRefusesNamingTheField(spec: String, field: String, message: String) throws {
        let error = try #require(refusal(spec))
        #expect(error.contains(field), "\(error)")
        #expect(error.contains(message), "\(error)")
    }

    @Test func warnsWhatEachKindCannotHonour() throws {
        let (notHonoured, limits) = try write(
            """
            targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: g}]
            accessLogging: [{providers: [{name: stdout}]}]
            tracing: [{providers: [{name: zipkin}], enableIstioTags: false}]
            metrics: [{providers: [{name: prometheus}], overrides: [{disabled: true}]}]
            """)
        #expect(notHonoured == ["spec.targetRefs", "spec.tracing[0].enableIstioTags"])
        #expect(limits.contains { $0.hasPrefix("spec.accessLogging: not honoured by proxyless gRPC clients: gRPC writes no access log") })
        #expect(limits.contains { $0.hasPrefix("spec.tracing: not honoured by proxyless gRPC clients") })
        #expect(limits.contains { $0.hasPrefix("spec.metrics: not honoured by Envoy proxies: stock Envoy has no istio.stats filter") })
        #expect(limits.contains { $0.hasPrefix("spec.metrics: not honoured by proxyless gRPC clients") })
        #expect(!limits.contains { $0.contains("Envoy") && !$0.hasPrefix("spec.metrics") })
    }

    @Test func advisesOnSeveralTracingEntriesAndProviders() throws {
        let spec = "tracing: [{providers: [{name: a}, {name: b}]}, {}]\naccessLogging: [{filter: {expression: 'true'}}]"
        guard case .telemetry(let telemetry) = try ConfigValidator.validate(resource(spec)) else {
            Issue.record("not a Telemetry")
            return
        }
        #expect(telemetry.advisories.map(\.field) == ["spec.tracing", "spec.tracing[0].providers", "spec.accessLogging[0].filter"])
    }
}

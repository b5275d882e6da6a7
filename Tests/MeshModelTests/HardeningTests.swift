import Testing

@testable import MeshModel

private let route = "- destination: {host: reviews}\n"

/// Input that used to crash, stall or bloat meshd: each case must now end in a clear error.
@Suite struct HardeningTests {
    static let typeRangeCases: [RuleCase] = [
        // Istio's HTTPRouteDestination.weight is int32: 2^32 used to trap the translator.
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- route:\n  - destination: {host: r}\n    weight: 4294967296",
            field: "spec.http[0].route[0].weight", message: "must be between -2147483648 and 2147483647 (int32)"),
        // Two destinations whose weights each fit but add up past uint32 (what Envoy and gRPC total them in).
        RuleCase(
            kind: "VirtualService",
            spec: "hosts: [r]\nhttp:\n- route:\n  - destination: {host: r, subset: a}\n    weight: 2147483647\n"
                + "  - destination: {host: r, subset: a}\n    weight: 2147483647\n  - destination: {host: r}\n    weight: 2",
            field: "spec.http[0].route[2].weight", message: "the weights of this rule add up to more than 4294967295"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- route:\n  - destination: {host: r}\n    weight: 1e300",
            field: "spec.http[0].route[0].weight", message: "out of range for a 64-bit integer"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- route:\n  " + route + "  retries: {attempts: 2147483648}",
            field: "spec.http[0].retries.attempts", message: "must be between -2147483648 and 2147483647 (int32)"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- route:\n  " + route + "  retries: {attempts: -1}",
            field: "spec.http[0].retries.attempts", message: "must not be negative"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- route:\n  " + route + "  retries: {attempts: 0, perTryTimeout: 1s}",
            field: "spec.http[0].retries.attempts", message: "http retry policy configured when attempts are set to 0 (disabled)"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- route:\n  " + route + "  timeout: 0.5ms",
            field: "spec.http[0].timeout", message: "duration must be at least 1ms"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- route:\n  " + route + "  timeout: 1500us",
            field: "spec.http[0].timeout", message: "only durations to ms precision are supported"),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- route:\n  " + route + "  timeout: 9999999999999h",
            field: "spec.http[0].timeout", message: #"invalid duration "9999999999999h""#),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- route:\n  " + route + "  retries: {attempts: 1, perTryTimeout: 1e400s}",
            field: "spec.http[0].retries.perTryTimeout", message: #"invalid duration "1e400s""#),
        RuleCase(
            kind: "WorkloadEntry", spec: "address: 10.0.0.1\nweight: 4294967296",
            field: "spec.weight", message: "must be at most 4294967295 (uint32)"),
        RuleCase(
            kind: "ServiceEntry",
            spec:
                "hosts: [a.com]\nports: [{number: 80, name: a}]\nendpoints:\n- {address: 10.0.0.1, weight: 4294967295}\n- {address: 10.0.0.2, weight: 1}",
            field: "spec.endpoints", message: "the endpoint weights add up to more than 4294967295"),
        // Endpoints without a weight count as 1 each.
        RuleCase(
            kind: "ServiceEntry",
            spec: "hosts: [a.com]\nports: [{number: 80, name: a}]\nendpoints:\n- {address: 10.0.0.1, weight: 4294967295}\n- {address: 10.0.0.2}",
            field: "spec.endpoints", message: "the endpoint weights add up to more than 4294967295"),
    ]

    static let regexCases: [RuleCase] = [
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- match:\n  - uri: {regex: \"(\"}\n  route:\n  " + route,
            field: "spec.http[0].match[0].uri.regex", message: "invalid RE2 regex: missing ): ("),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- match:\n  - uri: {regex: \"(a)\\\\1\"}\n  route:\n  " + route,
            field: "spec.http[0].match[0].uri.regex", message: #"invalid RE2 regex: invalid escape sequence: \1"#),
        RuleCase(
            kind: "VirtualService", spec: "hosts: [r]\nhttp:\n- match:\n  - headers: {x: {regex: \"(?=a)\"}}\n  route:\n  " + route,
            field: "spec.http[0].match[0].headers.x.regex", message: "invalid RE2 regex: invalid perl operator: (?="),
    ]

    @Test(arguments: typeRangeCases + regexCases)
    func outOfRangeAndInvalidValuesAreRefusedWithTheirField(_ rule: RuleCase) {
        let error = #expect(throws: MeshModelError.self) { try Fixtures.validate(kind: rule.kind, spec: rule.spec) }
        #expect(error?.code == .invalid)
        #expect(error?.field == rule.field)
        #expect(error?.message == rule.message)
    }

    @Test func re2AcceptsWhatEnvoyAccepts() throws {
        for pattern in ["/api/v[0-9]+/.*", "^(?i)jason$", #"\d{3}-\w+"#, "a|b|c"] {
            #expect(RegexSyntax.problem(in: pattern) == nil, "\(pattern)")
        }
        #expect(RegexSyntax.problem(in: "a{1001}") != nil)  // RE2's repeat limit is 1000
    }

    @Test func weightsAtTheirLimitsAreAccepted() throws {
        let spec =
            "hosts: [r]\nhttp:\n- route:\n  - destination: {host: r, subset: a}\n    weight: 2147483647\n"
            + "  - destination: {host: r}\n    weight: 2147483647"
        _ = try Fixtures.validate(kind: "VirtualService", spec: spec)
        _ = try Fixtures.validate(kind: "WorkloadEntry", spec: "address: 10.0.0.1\nweight: 4294967295")
    }

    // MARK: - YAML and JSON bounds

    @Test func base60IntegerOverflowIsANumberNotATrap() throws {
        // Yams' own constructor traps on this one-line body.
        let values = try YAMLConverter.documents(in: "a: 153722867280912931:0\nb: 1:30\nc: 0x1F\nd: 0o17\ne: 0b101\nf: -1_000\n")
        let object = try #require(values.first?.objectValue)
        #expect(object["a"] == .number(153722867280912931.0 * 60))
        #expect(object["b"] == .number(90))
        #expect(object["c"] == .number(31))
        #expect(object["d"] == .number(15))
        #expect(object["e"] == .number(5))
        #expect(object["f"] == .number(-1000))
    }

    @Test func aBase60WeightIsRefusedAsOutOfRange() throws {
        let body = """
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata: {name: w}
            spec: {address: 10.0.0.1, weight: 153722867280912931:0}
            """
        let resource = try #require(try ConfigDocumentParser.parse(body).first)
        let error = #expect(throws: MeshModelError.self) { try ConfigValidator.validate(resource) }
        #expect(error?.field == "spec.weight")
    }

    /// Nine levels of ten aliases each: 10^9 values once expanded, from a body under 1 KB.
    @Test func anAliasBombIsRefusedBeforeExpansion() {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for level in 1...9 {
            let previous = "*a\(level - 1)"
            lines.append("a\(level): &a\(level) [\(Array(repeating: previous, count: 10).joined(separator: ", "))]")
        }
        let body = lines.joined(separator: "\n")
        #expect(body.utf8.count < 1024)
        let error = #expect(throws: MeshModelError.self) { try ConfigDocumentParser.parse(body) }
        #expect(error?.code == .malformed)
        #expect(error?.message.contains("once aliases are expanded") == true)
    }

    /// One 64 KiB string repeated by aliases: few nodes, but far past the 1 MiB expansion budget.
    @Test func anAliasExpandingIntoAHugeStringIsRefused() {
        let big = String(repeating: "x", count: 64 * 1024)
        let body = "s: &s \(big)\nt: [" + Array(repeating: "*s", count: 32).joined(separator: ", ") + "]\n"
        let error = #expect(throws: MeshModelError.self) { try ConfigDocumentParser.parse(body) }
        #expect(error?.message.contains("bytes once aliases are expanded") == true)
    }

    @Test func aliasesWithinTheBudgetStillWork() throws {
        let body = """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews}
            spec:
              host: reviews
              subsets:
              - name: v1
                labels: &labels {app: reviews}
              - name: v2
                labels: *labels
            """
        let resource = try #require(try ConfigDocumentParser.parse(body).first)
        guard case .destinationRule(let rule) = try ConfigValidator.validate(resource) else {
            Issue.record("not a DestinationRule")
            return
        }
        #expect(rule.subsets.map(\.labels) == [["app": "reviews"], ["app": "reviews"]])
    }

    @Test func deepNestingIsRefusedWithoutRecursing() {
        // 300 levels: within libyaml's own limit (1,000), refused by meshd's scan at 256 before
        // Yams' recursive composer runs.
        let nested = "a: " + String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        let nestedError = #expect(throws: MeshModelError.self) { try ConfigDocumentParser.parse(nested) }
        #expect(nestedError?.message.contains("nesting deeper than 256") == true, "\(String(describing: nestedError))")
        // 200,000 levels would overflow the stack of a recursive composer; libyaml's scanner
        // refuses them first (its nesting limit), still without recursion.
        let deep = "a: " + String(repeating: "[", count: 200_000)
        let deepError = #expect(throws: MeshModelError.self) { try ConfigDocumentParser.parse(deep) }
        #expect(deepError?.code == .malformed)
        let json = String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)
        let jsonError = #expect(throws: MeshModelError.self) { try ConfigDocumentParser.parse(json) }
        #expect(jsonError?.message.contains("nesting deeper than") == true)
    }
}

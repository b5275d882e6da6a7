import Testing

@testable import MeshModel

/// One Gateway API CEL rule broken by a document that breaks no other rule.
struct GatewayRuleCase: CustomTestStringConvertible, Sendable {
    var message: String
    var kind: ConfigKind = .httpRoute
    /// The spec, as JSON.
    var spec: String
    /// Where the error is reported.
    var path: String
    var testDescription: String { message }
}

private let service = #"{"name":"echo","port":80}"#

/// Every CEL rule of the pinned CRDs, each as a check with a test: a document that breaks it is
/// refused with the rule's message at the path the rule guards.
struct GatewayRulesTests {
    static let cases: [GatewayRuleCase] =
        [
            .init(
                message: "sectionName must be specified when parentRefs includes 2 or more references to the same parent",
                spec: #"{"parentRefs":[{"name":"gw"},{"name":"gw","sectionName":"http"}]}"#, path: "spec.parentRefs"),
            .init(
                message: "sectionName must be unique when parentRefs includes 2 or more references to the same parent",
                spec: #"{"parentRefs":[{"name":"gw","sectionName":"http"},{"name":"gw","sectionName":"http"}]}"#, path: "spec.parentRefs"),
            .init(
                message: "RequestRedirect filter must not be used together with backendRefs",
                spec:
                    #"{"rules":[{"filters":[{"type":"RequestRedirect","requestRedirect":{"hostname":"example.org"}}],"backendRefs":[\#(service)]}]}"#,
                path: "spec.rules[0]"),
            .init(
                message: "When using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified",
                spec:
                    #"{"rules":[{"matches":[{"path":{"type":"Exact","value":"/a"}}],"filters":[{"type":"RequestRedirect","requestRedirect":{"path":{"type":"ReplacePrefixMatch","replacePrefixMatch":"/b"}}}]}]}"#,
                path: "spec.rules[0]"),
            .init(
                message: "When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified",
                spec:
                    #"{"rules":[{"matches":[{"path":{"type":"Exact","value":"/a"}}],"filters":[{"type":"URLRewrite","urlRewrite":{"path":{"type":"ReplacePrefixMatch","replacePrefixMatch":"/b"}}}]}]}"#,
                path: "spec.rules[0]"),
            .init(
                message:
                    "Within backendRefs, when using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified",
                spec:
                    #"{"rules":[{"matches":[{"path":{"type":"Exact","value":"/a"}}],"backendRefs":[{"name":"echo","port":80,"filters":[{"type":"RequestRedirect","requestRedirect":{"path":{"type":"ReplacePrefixMatch","replacePrefixMatch":"/b"}}}]}]}]}"#,
                path: "spec.rules[0]"),
            .init(
                message:
                    "Within backendRefs, When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified",
                spec:
                    #"{"rules":[{"matches":[{"path":{"type":"Exact","value":"/a"}}],"backendRefs":[{"name":"echo","port":80,"filters":[{"type":"URLRewrite","urlRewrite":{"path":{"type":"ReplacePrefixMatch","replacePrefixMatch":"/b"}}}]}]}]}"#,
                path: "spec.rules[0]"),
            .init(
                message: "Must have port for Service reference", spec: #"{"rules":[{"backendRefs":[{"name":"echo"}]}]}"#,
                path: "spec.rules[0].backendRefs[0]"),
            .init(
                message: "Must have port for Service reference",
                spec: #"{"rules":[{"filters":[{"type":"RequestMirror","requestMirror":{"backendRef":{"name":"echo"}}}]}]}"#,
                path: "spec.rules[0].filters[0].requestMirror.backendRef"),
            .init(
                message: "May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both",
                spec: #"{"rules":[{"filters":[{"type":"RequestRedirect","requestRedirect":{}},{"type":"URLRewrite","urlRewrite":{}}]}]}"#,
                path: "spec.rules[0].filters"),
            .init(
                message: "CORS filter cannot be repeated", spec: #"{"rules":[{"filters":[{"type":"CORS","cors":{}},{"type":"CORS","cors":{}}]}]}"#,
                path: "spec.rules[0].filters"),
            .init(
                message: "RequestHeaderModifier filter cannot be repeated",
                spec:
                    #"{"rules":[{"filters":[{"type":"RequestHeaderModifier","requestHeaderModifier":{}},{"type":"RequestHeaderModifier","requestHeaderModifier":{}}]}]}"#,
                path: "spec.rules[0].filters"),
            .init(
                message: "ResponseHeaderModifier filter cannot be repeated",
                spec:
                    #"{"rules":[{"backendRefs":[{"name":"echo","port":80,"filters":[{"type":"ResponseHeaderModifier","responseHeaderModifier":{}},{"type":"ResponseHeaderModifier","responseHeaderModifier":{}}]}]}]}"#,
                path: "spec.rules[0].backendRefs[0].filters"),
            .init(
                message: "RequestRedirect filter cannot be repeated",
                spec: #"{"rules":[{"filters":[{"type":"RequestRedirect","requestRedirect":{}},{"type":"RequestRedirect","requestRedirect":{}}]}]}"#,
                path: "spec.rules[0].filters"),
            .init(
                message: "URLRewrite filter cannot be repeated",
                spec: #"{"rules":[{"filters":[{"type":"URLRewrite","urlRewrite":{}},{"type":"URLRewrite","urlRewrite":{}}]}]}"#,
                path: "spec.rules[0].filters"),
            .init(
                message: "AllowHeaders cannot contain '*' alongside other methods",
                spec: #"{"rules":[{"filters":[{"type":"CORS","cors":{"allowHeaders":["*","x-user"]}}]}]}"#,
                path: "spec.rules[0].filters[0].cors.allowHeaders"),
            .init(
                message: "AllowMethods cannot contain '*' alongside other methods",
                spec: #"{"rules":[{"filters":[{"type":"CORS","cors":{"allowMethods":["*","GET"]}}]}]}"#,
                path: "spec.rules[0].filters[0].cors.allowMethods"),
            .init(
                message: "AllowOrigins cannot contain '*' alongside other origins",
                spec: #"{"rules":[{"filters":[{"type":"CORS","cors":{"allowOrigins":["*","https://example.org"]}}]}]}"#,
                path: "spec.rules[0].filters[0].cors.allowOrigins"),
            .init(
                message: "Only one of percent or fraction may be specified in HTTPRequestMirrorFilter",
                spec:
                    #"{"rules":[{"filters":[{"type":"RequestMirror","requestMirror":{"backendRef":\#(service),"percent":10,"fraction":{"numerator":1}}}]}]}"#,
                path: "spec.rules[0].filters[0].requestMirror"),
            .init(
                message: "numerator must be less than or equal to denominator",
                spec:
                    #"{"rules":[{"filters":[{"type":"RequestMirror","requestMirror":{"backendRef":\#(service),"fraction":{"numerator":5,"denominator":2}}}]}]}"#,
                path: "spec.rules[0].filters[0].requestMirror.fraction"),
            .init(
                message: "replaceFullPath must be specified when type is set to 'ReplaceFullPath'",
                spec: #"{"rules":[{"filters":[{"type":"URLRewrite","urlRewrite":{"path":{"type":"ReplaceFullPath"}}}]}]}"#,
                path: "spec.rules[0].filters[0].urlRewrite.path"),
            .init(
                message: "type must be 'ReplaceFullPath' when replaceFullPath is set",
                spec:
                    #"{"rules":[{"filters":[{"type":"URLRewrite","urlRewrite":{"path":{"type":"ReplacePrefixMatch","replacePrefixMatch":"/a","replaceFullPath":"/b"}}}]}]}"#,
                path: "spec.rules[0].filters[0].urlRewrite.path"),
            .init(
                message: "replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'",
                spec: #"{"rules":[{"filters":[{"type":"RequestRedirect","requestRedirect":{"path":{"type":"ReplacePrefixMatch"}}}]}]}"#,
                path: "spec.rules[0].filters[0].requestRedirect.path"),
            .init(
                message: "type must be 'ReplacePrefixMatch' when replacePrefixMatch is set",
                spec:
                    #"{"rules":[{"filters":[{"type":"RequestRedirect","requestRedirect":{"path":{"type":"ReplaceFullPath","replaceFullPath":"/a","replacePrefixMatch":"/b"}}}]}]}"#,
                path: "spec.rules[0].filters[0].requestRedirect.path"),
            .init(
                message: "value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']",
                spec: #"{"rules":[{"matches":[{"path":{"type":"Exact","value":"a"}}]}]}"#, path: "spec.rules[0].matches[0].path"),
            .init(
                message: "must not contain '//' when type one of ['Exact', 'PathPrefix']",
                spec: #"{"rules":[{"matches":[{"path":{"value":"/a//b"}}]}]}"#, path: "spec.rules[0].matches[0].path"),
            .init(
                message: "must not contain '/./' when type one of ['Exact', 'PathPrefix']",
                spec: #"{"rules":[{"matches":[{"path":{"value":"/a/./b"}}]}]}"#, path: "spec.rules[0].matches[0].path"),
            .init(
                message: "must not contain '/../' when type one of ['Exact', 'PathPrefix']",
                spec: #"{"rules":[{"matches":[{"path":{"value":"/a/../b"}}]}]}"#, path: "spec.rules[0].matches[0].path"),
            .init(
                message: "must not contain '%2f' when type one of ['Exact', 'PathPrefix']",
                spec: #"{"rules":[{"matches":[{"path":{"value":"/a%2fb"}}]}]}"#, path: "spec.rules[0].matches[0].path"),
            .init(
                message: "must not contain '%2F' when type one of ['Exact', 'PathPrefix']",
                spec: #"{"rules":[{"matches":[{"path":{"value":"/a%2Fb"}}]}]}"#, path: "spec.rules[0].matches[0].path"),
            .init(
                message: "must not contain '#' when type one of ['Exact', 'PathPrefix']",
                spec: #"{"rules":[{"matches":[{"path":{"value":"/a#b"}}]}]}"#, path: "spec.rules[0].matches[0].path"),
            .init(
                message: "must not end with '/..' when type one of ['Exact', 'PathPrefix']",
                spec: #"{"rules":[{"matches":[{"path":{"value":"/a/.."}}]}]}"#, path: "spec.rules[0].matches[0].path"),
            .init(
                message: "must not end with '/.' when type one of ['Exact', 'PathPrefix']",
                spec: #"{"rules":[{"matches":[{"path":{"value":"/a/."}}]}]}"#, path: "spec.rules[0].matches[0].path"),
            .init(
                message:
                    "must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']",
                spec: #"{"rules":[{"matches":[{"path":{"type":"Exact","value":"/a b"}}]}]}"#, path: "spec.rules[0].matches[0].path"),
            .init(
                message: "backendRequest timeout cannot be longer than request timeout",
                spec: #"{"rules":[{"timeouts":{"request":"1s","backendRequest":"1m"}}]}"#, path: "spec.rules[0].timeouts"),
            .init(
                message: "One or both of 'service' or 'method' must be specified", kind: .grpcRoute,
                spec: #"{"rules":[{"matches":[{"method":{"type":"Exact"}}]}]}"#, path: "spec.rules[0].matches[0].method"),
            .init(
                message: "service must only contain valid characters (matching ^(?i)\\.?[a-z_][a-z_0-9]*(\\.[a-z_][a-z_0-9]*)*$)",
                kind: .grpcRoute, spec: #"{"rules":[{"matches":[{"method":{"service":"echo-v1"}}]}]}"#, path: "spec.rules[0].matches[0].method"),
            .init(
                message: "method must only contain valid characters (matching ^[A-Za-z_][A-Za-z_0-9]*$)", kind: .grpcRoute,
                spec: #"{"rules":[{"matches":[{"method":{"method":"Get-All"}}]}]}"#, path: "spec.rules[0].matches[0].method"),
            .init(
                message: "RequestHeaderModifier filter cannot be repeated", kind: .grpcRoute,
                spec:
                    #"{"rules":[{"filters":[{"type":"RequestHeaderModifier","requestHeaderModifier":{}},{"type":"RequestHeaderModifier","requestHeaderModifier":{}}]}]}"#,
                path: "spec.rules[0].filters"),
            .init(
                message: "sectionName must be unique when parentRefs includes 2 or more references to the same parent", kind: .grpcRoute,
                spec: #"{"parentRefs":[{"name":"gw","sectionName":"http"},{"name":"gw","sectionName":"http"}]}"#, path: "spec.parentRefs"),
        ]
        // filter.X must be nil if the type is not X / must be specified for X (every member).
        + [
            ("cors", "CORS", "{}"), ("requestHeaderModifier", "RequestHeaderModifier", "{}"),
            ("responseHeaderModifier", "ResponseHeaderModifier", "{}"), ("requestMirror", "RequestMirror", #"{"backendRef":\#(service)}"#),
            ("requestRedirect", "RequestRedirect", "{}"), ("urlRewrite", "URLRewrite", "{}"),
            ("extensionRef", "ExtensionRef", #"{"group":"example.org","kind":"Auth","name":"a"}"#),
        ].flatMap { member, type, body in
            // Another filter carrying this member as well: only "must be nil" is broken.
            let other = type == "CORS" ? (#""type":"URLRewrite","urlRewrite":{}"#) : (#""type":"CORS","cors":{}"#)
            return [
                GatewayRuleCase(
                    message: "filter.\(member) must be nil if the filter.type is not \(type)",
                    spec: #"{"rules":[{"filters":[{\#(other),"\#(member)":\#(body)}]}]}"#, path: "spec.rules[0].filters[0]"),
                GatewayRuleCase(
                    message: "filter.\(member) must be specified for \(type) filter.type",
                    spec: #"{"rules":[{"filters":[{"type":"\#(type)"}]}]}"#, path: "spec.rules[0].filters[0]"),
            ]
        }

    @Test(arguments: cases) func aBrokenRuleIsRefusedWithItsMessageAtItsPath(_ row: GatewayRuleCase) throws {
        let resource = ConfigResource(key: ConfigKey(kind: row.kind, namespace: "default", name: "r"), spec: try JSONValue.parse(json: row.spec))
        let error = #expect(throws: MeshModelError.self) { try ConfigValidator.validateForWrite(resource) }
        #expect(error?.message == "Invalid value: \(row.message)")
        #expect(error?.field == row.path)
    }

    /// More than 128 matches across a route's rules (each rule may hold 64).
    @Test(arguments: [ConfigKind.httpRoute, .grpcRoute]) func tooManyMatchesAcrossRules(_ kind: ConfigKind) throws {
        let match = kind == .httpRoute ? #"{"path":{"value":"/a"}}"# : #"{"method":{"service":"a"}}"#
        let rule = #"{"matches":[\#(Array(repeating: match, count: 64).joined(separator: ","))]}"#
        let spec = #"{"rules":[\#(rule),\#(rule),\#(#"{"matches":[\#(match)]}"#)]}"#
        let resource = ConfigResource(key: ConfigKey(kind: kind, namespace: "default", name: "r"), spec: try JSONValue.parse(json: spec))
        let error = #expect(throws: MeshModelError.self) { try ConfigValidator.validateForWrite(resource) }
        #expect(error?.field == "spec.rules")
        #expect(error?.message.contains("the total number of matches across all rules in a route must be less than 128") == true)
        // 128 exactly is allowed.
        let fits = #"{"rules":[\#(rule),\#(rule)]}"#
        _ = try ConfigValidator.validateForWrite(
            ConfigResource(key: ConfigKey(kind: kind, namespace: "default", name: "r"), spec: try JSONValue.parse(json: fits)))
    }

    /// The path type rule cannot be reached through the schema (its enum refuses first): its
    /// check is tested alone.
    @Test func thePathTypeRuleHoldsForTheThreeTypesOnly() throws {
        let check = try #require(GatewayRules.checks["type must be one of ['Exact', 'PathPrefix', 'RegularExpression']"])
        for type in ["Exact", "PathPrefix", "RegularExpression"] { #expect(check(.object(["type": .string(type), "value": .string("/")]))) }
        #expect(!check(.object(["type": .string("Suffix"), "value": .string("/")])))
    }

    /// Every rule of the generated table has a check, and every check is some rule's: a new
    /// release's rule cannot go unchecked.
    @Test func everyCRDRuleHasACheck() {
        let messages = Set(GatewaySchema.celRules.map(\.message))
        #expect(messages.subtracting(GatewayRules.checks.keys).isEmpty)
        #expect(Set(GatewayRules.checks.keys).subtracting(messages).isEmpty)
        // Every rule that a document can break has a case above.
        let tested = Set(Self.cases.map(\.message)).union([
            "type must be one of ['Exact', 'PathPrefix', 'RegularExpression']",
            "While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128",
        ])
        #expect(messages.subtracting(tested).isEmpty, "untested rules: \(messages.subtracting(tested).sorted())")
    }

    /// The Gateway API's duration grammar (`1h`, `500ms`, `1m30s`).
    @Test func durations() {
        #expect(GatewayRules.milliseconds("1h") == 3_600_000)
        #expect(GatewayRules.milliseconds("1m30s") == 90_000)
        #expect(GatewayRules.milliseconds("500ms") == 500)
        #expect(GatewayRules.milliseconds("0s") == 0)
        #expect(GatewayRules.milliseconds("1.5s") == nil)
        #expect(GatewayRules.milliseconds("") == nil)
        #expect(GatewayRules.milliseconds("10") == nil)
    }
}

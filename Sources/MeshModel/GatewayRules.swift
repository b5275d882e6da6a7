import MeshCommon

/// The Gateway API CRDs' CEL rules (`x-kubernetes-validations`), each written as a Swift check
/// and found by the rule's message. `GatewaySchema.celRules` (generated) says where each rule
/// applies; this file says what it means. A test proves every generated rule has a check here,
/// so a new release's rule cannot go unchecked unnoticed.
///
/// Checks see the spec with the schema's defaults applied, as the API server's CEL does.
enum GatewayRules {
    /// A rule's meaning: whether it holds for the value at its path.
    typealias Check = @Sendable (JSONValue) -> Bool

    /// One rule where it applies: its path as member names with list depths, and its check
    /// (nil when this file has none, which a test rules out).
    struct Placed: Sendable {
        var kind: String
        var path: String
        var segments: [(name: String, depth: Int)]
        var message: String
        var holds: Check?
    }

    /// Every generated rule, its path split once.
    static let placed: [Placed] = GatewaySchema.celRules.map { rule in
        var segments: [(String, Int)] = []
        for segment in rule.path.split(separator: ".").dropFirst() {  // "spec"
            var name = Substring(segment)
            var depth = 0
            while name.hasSuffix("[]") {
                name = name.dropLast(2)
                depth += 1
            }
            segments.append((String(name), depth))
        }
        return Placed(kind: rule.kind, path: rule.path, segments: segments, message: rule.message, holds: checks[rule.message])
    }

    /// Checks every rule of `kind` that applies to `spec`, in the CRD's order.
    /// - Throws: `MeshModelError` with the rule's message at the first failing value's path.
    static func check(kind: String, spec: JSONValue, resource: String) throws(MeshModelError) {
        for rule in placed where rule.kind == kind {
            guard let holds = rule.holds else {
                // Unreachable while the test holds the tables together; refuse rather than skip.
                throw MeshModelError(
                    code: .invalid, resource: resource, field: rule.path,
                    message: "meshd has no check for the Gateway API rule \"\(rule.message)\"")
            }
            for (path, value) in values(at: rule.segments, in: spec) where !holds(value) {
                throw MeshModelError(code: .invalid, resource: resource, field: path, message: "Invalid value: \(rule.message)")
            }
        }
    }

    /// The values a schema path (`spec.rules[].filters[]`, split) names in `spec`, with their
    /// concrete paths (`spec.rules[0].filters[1]`). Absent members name nothing.
    static func values(at segments: [(name: String, depth: Int)], in spec: JSONValue) -> [(String, JSONValue)] {
        var found: [(String, JSONValue)] = [("spec", spec)]
        for (name, depth) in segments {
            var next: [(String, JSONValue)] = []
            for (path, value) in found {
                guard let member = value[name] else { continue }
                var level = [("\(path).\(name)", member)]
                for _ in 0..<depth {
                    level = level.flatMap { path, list in
                        (list.arrayValue ?? []).enumerated().map { ("\(path)[\($0.offset)]", $0.element) }
                    }
                }
                next += level
            }
            found = next
            if found.isEmpty { break }
        }
        return found
    }

    // MARK: - Reading values as CEL does

    /// `has(v.name)`: present (the API server never stores nulls).
    private static func has(_ value: JSONValue, _ name: String) -> Bool {
        guard let member = value[name] else { return false }
        return member != .null
    }

    private static func text(_ value: JSONValue, _ name: String) -> String? { value[name]?.stringValue }

    private static func list(_ value: JSONValue, _ name: String) -> [JSONValue] { value[name]?.arrayValue ?? [] }

    /// `!has(x.f) || x.f == ''`.
    private static func isEmpty(_ value: JSONValue, _ name: String) -> Bool { (text(value, name) ?? "").isEmpty }

    /// Two parentRefs naming the same parent: group, kind, name, and namespaces both unset (or
    /// empty) or both set and equal.
    private static func sameParent(_ a: JSONValue, _ b: JSONValue) -> Bool {
        guard text(a, "group") == text(b, "group"), text(a, "kind") == text(b, "kind"), text(a, "name") == text(b, "name") else {
            return false
        }
        if isEmpty(a, "namespace") && isEmpty(b, "namespace") { return true }
        return has(a, "namespace") && has(b, "namespace") && text(a, "namespace") == text(b, "namespace")
    }

    private static func sameSection(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if isEmpty(a, "sectionName") && isEmpty(b, "sectionName") { return true }
        return has(a, "sectionName") && has(b, "sectionName") && text(a, "sectionName") == text(b, "sectionName")
    }

    /// Whether one of `filters` (exactly one, CEL's `exists_one`) is a `kind` filter
    /// (`requestRedirect`, `urlRewrite`) whose path replaces the prefix match.
    private static func exactlyOneReplacesPrefix(_ filters: [JSONValue], _ kind: String) -> Bool {
        filters.filter { filter in
            guard let modifier = filter[kind], let path = modifier["path"] else { return false }
            return text(path, "type") == "ReplacePrefixMatch" && has(path, "replacePrefixMatch")
        }.count == 1
    }

    /// A rule's matches are exactly one, with a `PathPrefix` path.
    private static func onePrefixMatch(_ rule: JSONValue) -> Bool {
        let matches = list(rule, "matches")
        guard matches.count == 1, let path = matches[0]["path"] else { return false }
        return text(path, "type") == "PathPrefix"
    }

    private static func filterCount(_ filters: JSONValue, _ type: String) -> Int {
        (filters.arrayValue ?? []).filter { text($0, "type") == type }.count
    }

    /// `filter.X must be nil if the filter.type is not T` and `must be specified for T`.
    private static func memberRules(_ member: String, _ type: String) -> [String: Check] {
        [
            "filter.\(member) must be nil if the filter.type is not \(type)": { !(has($0, member) && text($0, "type") != type) },
            "filter.\(member) must be specified for \(type) filter.type": { !(!has($0, member) && text($0, "type") == type) },
        ]
    }

    /// `!('*' in self && self.size() > 1)`: a CORS list's `*` stands alone.
    private static let loneWildcard: Check = { values in
        let items = values.arrayValue ?? []
        return !(items.contains(.string("*")) && items.count > 1)
    }

    /// A path match's rule for `Exact` and `PathPrefix` values.
    private static func pathRule(_ holds: @escaping @Sendable (String) -> Bool) -> Check {
        { match in
            guard let type = text(match, "type"), type == "Exact" || type == "PathPrefix" else { return true }
            return holds(text(match, "value") ?? "")
        }
    }

    /// A gRPC method match's rule for `Exact` (or unset) types on `member` when present.
    private static func methodRule(_ member: String, _ pattern: String) -> Check {
        { match in
            let type = text(match, "type")
            guard type == nil || type == "Exact", let value = text(match, member) else { return true }
            return RegexSyntax.fullMatch(pattern, value) == true
        }
    }

    /// The Gateway API's duration (`1h`, `500ms`, `1m30s`), in milliseconds: the API's grammar
    /// (at most four whole amounts of up to five digits), read by the shared Go-unit parser.
    static func milliseconds(_ duration: String) -> Int? {
        guard RegexSyntax.fullMatch("([0-9]{1,5}(h|m|s|ms)){1,4}", duration) == true,
            let parsed = DurationSyntax.parse(duration, units: .go)
        else { return nil }
        let (seconds, attoseconds) = parsed.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }

    // MARK: - The rules, by message

    static let checks: [String: Check] = {
        var checks: [String: Check] = [
            "sectionName must be specified when parentRefs includes 2 or more references to the same parent": { refs in
                let parents = refs.arrayValue ?? []
                return parents.allSatisfy { a in
                    parents.allSatisfy { b in
                        !sameParent(a, b) || isEmpty(a, "sectionName") == isEmpty(b, "sectionName")
                    }
                }
            },
            "sectionName must be unique when parentRefs includes 2 or more references to the same parent": { refs in
                let parents = refs.arrayValue ?? []
                return parents.allSatisfy { a in parents.filter { b in sameParent(a, b) && sameSection(a, b) }.count == 1 }
            },
            "While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128":
                { rules in
                    (rules.arrayValue ?? []).prefix(16).reduce(0) { $0 + list($1, "matches").count } <= 128
                },
            "RequestRedirect filter must not be used together with backendRefs": { rule in
                list(rule, "backendRefs").isEmpty || list(rule, "filters").allSatisfy { !has($0, "requestRedirect") }
            },
            "When using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified": { rule in
                !exactlyOneReplacesPrefix(list(rule, "filters"), "requestRedirect") || onePrefixMatch(rule)
            },
            "When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified": { rule in
                !exactlyOneReplacesPrefix(list(rule, "filters"), "urlRewrite") || onePrefixMatch(rule)
            },
            "Within backendRefs, when using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified":
                { rule in
                    let one = list(rule, "backendRefs").filter { exactlyOneReplacesPrefix(list($0, "filters"), "requestRedirect") }.count == 1
                    return !one || onePrefixMatch(rule)
                },
            "Within backendRefs, When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified":
                { rule in
                    let one = list(rule, "backendRefs").filter { exactlyOneReplacesPrefix(list($0, "filters"), "urlRewrite") }.count == 1
                    return !one || onePrefixMatch(rule)
                },
            "Must have port for Service reference": { ref in
                !((text(ref, "group") ?? "").isEmpty && text(ref, "kind") == "Service") || has(ref, "port")
            },
            "May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both": { filters in
                !(filterCount(filters, "RequestRedirect") > 0 && filterCount(filters, "URLRewrite") > 0)
            },
            "AllowHeaders cannot contain '*' alongside other methods": loneWildcard,
            "AllowMethods cannot contain '*' alongside other methods": loneWildcard,
            "AllowOrigins cannot contain '*' alongside other origins": loneWildcard,
            "Only one of percent or fraction may be specified in HTTPRequestMirrorFilter": { mirror in
                !(has(mirror, "percent") && has(mirror, "fraction"))
            },
            "numerator must be less than or equal to denominator": { fraction in
                (fraction["numerator"]?.doubleValue ?? 0) <= (fraction["denominator"]?.doubleValue ?? 100)
            },
            "replaceFullPath must be specified when type is set to 'ReplaceFullPath'": { path in
                text(path, "type") != "ReplaceFullPath" || has(path, "replaceFullPath")
            },
            "type must be 'ReplaceFullPath' when replaceFullPath is set": { path in
                !has(path, "replaceFullPath") || text(path, "type") == "ReplaceFullPath"
            },
            "replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'": { path in
                text(path, "type") != "ReplacePrefixMatch" || has(path, "replacePrefixMatch")
            },
            "type must be 'ReplacePrefixMatch' when replacePrefixMatch is set": { path in
                !has(path, "replacePrefixMatch") || text(path, "type") == "ReplacePrefixMatch"
            },
            "value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']": pathRule { $0.hasPrefix("/") },
            "must not contain '//' when type one of ['Exact', 'PathPrefix']": pathRule { !$0.contains("//") },
            "must not contain '/./' when type one of ['Exact', 'PathPrefix']": pathRule { !$0.contains("/./") },
            "must not contain '/../' when type one of ['Exact', 'PathPrefix']": pathRule { !$0.contains("/../") },
            "must not contain '%2f' when type one of ['Exact', 'PathPrefix']": pathRule { !$0.contains("%2f") },
            "must not contain '%2F' when type one of ['Exact', 'PathPrefix']": pathRule { !$0.contains("%2F") },
            "must not contain '#' when type one of ['Exact', 'PathPrefix']": pathRule { !$0.contains("#") },
            "must not end with '/..' when type one of ['Exact', 'PathPrefix']": pathRule { !$0.hasSuffix("/..") },
            "must not end with '/.' when type one of ['Exact', 'PathPrefix']": pathRule { !$0.hasSuffix("/.") },
            "type must be one of ['Exact', 'PathPrefix', 'RegularExpression']": { match in
                ["Exact", "PathPrefix", "RegularExpression"].contains(text(match, "type") ?? "")
            },
            "must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']":
                pathRule { RegexSyntax.fullMatch("(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+", $0) == true },
            "backendRequest timeout cannot be longer than request timeout": { timeouts in
                guard let request = text(timeouts, "request").flatMap(milliseconds), request != 0,
                    let backend = text(timeouts, "backendRequest").flatMap(milliseconds)
                else { return true }
                return backend <= request
            },
            "One or both of 'service' or 'method' must be specified": { match in
                !has(match, "type") || has(match, "service") || has(match, "method")
            },
            "service must only contain valid characters (matching ^(?i)\\.?[a-z_][a-z_0-9]*(\\.[a-z_][a-z_0-9]*)*$)":
                methodRule("service", "(?i)\\.?[a-z_][a-z_0-9]*(\\.[a-z_][a-z_0-9]*)*"),
            "method must only contain valid characters (matching ^[A-Za-z_][A-Za-z_0-9]*$)": methodRule("method", "[A-Za-z_][A-Za-z_0-9]*"),
        ]
        for type in ["CORS", "RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect", "URLRewrite"] {
            checks["\(type) filter cannot be repeated"] = { filterCount($0, type) <= 1 }
        }
        for (member, type) in [
            ("cors", "CORS"), ("requestHeaderModifier", "RequestHeaderModifier"), ("responseHeaderModifier", "ResponseHeaderModifier"),
            ("requestMirror", "RequestMirror"), ("requestRedirect", "RequestRedirect"), ("urlRewrite", "URLRewrite"),
            ("extensionRef", "ExtensionRef"),
        ] {
            checks.merge(memberRules(member, type)) { first, _ in first }
        }
        return checks
    }()
}

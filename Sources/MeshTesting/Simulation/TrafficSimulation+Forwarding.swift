import EnvoyAPI
import Foundation

/// What a route does to the request it forwards and to the response: Envoy's path and host
/// rewrites and its header operations, read from the decoded route.
extension TrafficSimulation {
    /// The request after the route's rewrites and request header operations (the chosen
    /// weighted cluster's first, then the route's: Envoy applies the most specific level first,
    /// so the route's operations have the last word).
    static func forward(
        _ request: SimulatedRequest, route: Envoy_Config_Route_V3_Route, action: Envoy_Config_Route_V3_RouteAction,
        weight: Envoy_Config_Route_V3_WeightedCluster.ClusterWeight?
    ) -> SimulatedForward {
        var headers = Dictionary(request.headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
        if let weight { mutate(&headers, remove: weight.requestHeadersToRemove, add: weight.requestHeadersToAdd) }
        mutate(&headers, remove: route.requestHeadersToRemove, add: route.requestHeadersToAdd)
        var authority = request.authority
        if case .hostRewriteLiteral(let host)? = action.hostRewriteSpecifier { authority = host }
        if case .hostRewriteLiteral(let host)? = weight?.hostRewriteSpecifier { authority = host }
        return SimulatedForward(path: rewrite(request.path, match: route.match, action: action), authority: authority, headers: headers)
    }

    /// The destination's response headers after the response header operations.
    static func respond(
        _ response: [String: String], route: Envoy_Config_Route_V3_Route,
        weight: Envoy_Config_Route_V3_WeightedCluster.ClusterWeight?
    ) -> [String: String] {
        var headers = Dictionary(response.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
        if let weight { mutate(&headers, remove: weight.responseHeadersToRemove, add: weight.responseHeadersToAdd) }
        mutate(&headers, remove: route.responseHeadersToRemove, add: route.responseHeadersToAdd)
        return headers
    }

    /// Envoy's order within one level: removals, then additions by their append action.
    static func mutate(_ headers: inout [String: String], remove: [String], add: [Envoy_Config_Core_V3_HeaderValueOption]) {
        for name in remove { headers[name.lowercased()] = nil }
        for option in add {
            let name = option.header.key.lowercased()
            switch option.appendAction {
            case .appendIfExistsOrAdd: headers[name] = headers[name].map { "\($0),\(option.header.value)" } ?? option.header.value
            case .addIfAbsent: if headers[name] == nil { headers[name] = option.header.value }
            case .overwriteIfExists: if headers[name] != nil { headers[name] = option.header.value }
            default: headers[name] = option.header.value
            }
        }
    }

    /// `regex_rewrite` substitutes every match in the path; `prefix_rewrite` replaces what the
    /// route's path specifier matched (the prefix, or the whole path for exact and regex
    /// matches). The query string is kept.
    static func rewrite(_ path: String, match: Envoy_Config_Route_V3_RouteMatch, action: Envoy_Config_Route_V3_RouteAction) -> String {
        let parts = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let pathOnly = String(parts[0])
        let query = parts.count > 1 ? "?" + parts[1] : ""
        if action.hasRegexRewrite {
            return substitute(pathOnly, pattern: action.regexRewrite.pattern.regex, with: action.regexRewrite.substitution) + query
        }
        guard !action.prefixRewrite.isEmpty else { return path }
        switch match.pathSpecifier {
        case .prefix(let prefix): return action.prefixRewrite + pathOnly.dropFirst(prefix.count) + query
        default: return action.prefixRewrite + query
        }
    }

    /// RE2's global replace (`\1` names a group), done with Foundation's engine: the patterns
    /// the tests use mean the same in both.
    static func substitute(_ text: String, pattern: String, with substitution: String) -> String {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return text }
        var template = ""
        var escaped = false
        for character in substitution {
            if escaped {
                template += character.isNumber ? "$\(character)" : String(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                template += character == "$" ? "\\$" : String(character)
            }
        }
        return regex.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: template)
    }
}

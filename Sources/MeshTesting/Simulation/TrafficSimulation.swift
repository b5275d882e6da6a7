import EnvoyAPI
import Foundation
import MeshModel
import PushPipeline
import SwiftProtobuf
import Translator
import XDSCore

/// Walks the xDS resources a proxy was sent — decoded from their bytes, not from meshd's model —
/// the way a data plane does: listener → route configuration → virtual host (Envoy's domain
/// matching) → first matching route → action → cluster → endpoints. Tests state what a request
/// should reach and check it against what meshd actually sends (Istio's `pilot/pkg/simulation`
/// is the model).
///
/// `run(_:)` walks proxyless gRPC listeners (an API listener named by the dialed target, whose
/// HttpConnectionManager names its route configuration over RDS); `connect(_:)` walks an Envoy
/// sidecar's listeners and filter chains (`TrafficSimulation+Envoy.swift`). Header matching
/// follows Envoy's rules, including for absent headers and `invert_match`.
public struct TrafficSimulation: Sendable {
    public let listeners: [String: Envoy_Config_Listener_V3_Listener]
    public let routes: [String: Envoy_Config_Route_V3_RouteConfiguration]
    public let clusters: [String: Envoy_Config_Cluster_V3_Cluster]
    let assignments: [String: Envoy_Config_Endpoint_V3_ClusterLoadAssignment]

    /// Decodes every resource of `snapshot` from its bytes.
    /// - Throws: when a resource does not decode as its type.
    public init(snapshot: ProxySnapshot) throws {
        func decode<M: SwiftProtobuf.Message>(_ typeURL: String, as type: M.Type) throws -> [String: M] {
            var decoded: [String: M] = [:]
            for (name, resource) in snapshot.of(typeURL) {
                decoded[name] = try M(serializedBytes: resource.payload.value)
            }
            return decoded
        }
        listeners = try decode(TypeURL.listener, as: Envoy_Config_Listener_V3_Listener.self)
        routes = try decode(TypeURL.route, as: Envoy_Config_Route_V3_RouteConfiguration.self)
        clusters = try decode(TypeURL.cluster, as: Envoy_Config_Cluster_V3_Cluster.self)
        assignments = try decode(TypeURL.endpoint, as: Envoy_Config_Endpoint_V3_ClusterLoadAssignment.self)
    }

    /// Where `request` goes, and what the proxy does to it on the way. For a weighted split,
    /// `cluster` names the cluster the request is taken to have drawn, whose header operations
    /// and host rewrite then apply too.
    ///
    /// For an Envoy sidecar (no API listener named by the authority, a `virtualOutbound`), the
    /// request is a connection to the authority's port (80 when it names none) through
    /// `connect(_:cluster:)`.
    public func run(_ request: SimulatedRequest, cluster chosen: String? = nil) -> SimulationResult {
        guard let listener = listeners[request.authority] else {
            if self.listener(at: "0.0.0.0", port: 15001) != nil {
                let port = request.authority.split(separator: ":").last.flatMap { UInt32($0) } ?? 80
                return connect(SimulatedConnection(address: "10.96.0.1", port: port, request: request), cluster: chosen).result
            }
            return .init(route: nil, outcome: .noListener(request.authority))
        }
        guard
            let manager = try? Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager(
                serializedBytes: listener.apiListener.apiListener.value)
        else {
            return .init(route: nil, outcome: .noListener(request.authority))
        }
        return route(request, through: manager, cluster: chosen)
    }

    /// Where `request` goes through the connection manager `manager` (its inline routes, or
    /// those it names over RDS): virtual host, first matching route, action; `chosen` as in
    /// `run(_:cluster:)`.
    func route(
        _ request: SimulatedRequest,
        through manager: Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager,
        cluster chosen: String? = nil, secure: Bool = false
    ) -> SimulationResult {
        let configuration: Envoy_Config_Route_V3_RouteConfiguration
        if case .routeConfig(let inline)? = manager.routeSpecifier {
            configuration = inline
        } else if let named = routes[manager.rds.routeConfigName] {
            configuration = named
        } else {
            return .init(route: nil, outcome: .noRouteConfiguration(manager.rds.routeConfigName))
        }
        var authority = request.authority
        if configuration.ignorePortInHostMatching, let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            authority = String(authority[..<colon])
        }
        guard let virtualHost = Self.virtualHost(for: authority, in: configuration.virtualHosts) else {
            return .init(route: nil, outcome: .noVirtualHost)
        }
        // require_tls: a plaintext request is redirected to HTTPS before any route is tried.
        if virtualHost.requireTls == .all, !secure {
            return .init(route: nil, outcome: .redirect(location: "https://\(request.authority)\(request.path)", status: 301))
        }
        let headers = request.allHeaders
        guard let route = virtualHost.routes.first(where: { Self.matches($0.match, path: request.path, headers: headers) }) else {
            return .init(route: nil, outcome: .noRoute)
        }
        let filters = manager.httpFilters.map(\.name)
        var result = SimulationResult(route: route.name, outcome: outcome(of: route, path: request.path), fault: fault(of: route, filters: filters))
        if case .route(let action)? = route.action {
            var weight: Envoy_Config_Route_V3_WeightedCluster.ClusterWeight?
            if case .weightedClusters(let split)? = action.clusterSpecifier, let chosen {
                weight = split.clusters.first { $0.name == chosen }
            }
            result.forwarded = Self.forward(request, route: route, action: action, weight: weight)
            result.mirrors = action.requestMirrorPolicies.map {
                SimulatedMirror(
                    cluster: $0.cluster, perMillion: Self.perMillion($0.runtimeFraction.defaultValue),
                    clusterExists: clusters[$0.cluster] != nil)
            }
            result.responseHeaders = Self.respond(request.responseHeaders, route: route, weight: weight)
        }
        Self.applyCORS(request, route: route, filters: filters, to: &result)
        return result
    }

    /// A fraction as parts per million.
    static func perMillion(_ fraction: Envoy_Type_V3_FractionalPercent) -> UInt32 {
        switch fraction.denominator {
        case .hundred: fraction.numerator.multipliedReportingOverflow(by: 10_000).partialValue
        case .tenThousand: fraction.numerator.multipliedReportingOverflow(by: 100).partialValue
        default: fraction.numerator
        }
    }

    /// The route's fault filter configuration — acted on only when the HCM lists the filter, as
    /// in Envoy and gRPC.
    private func fault(of route: Envoy_Config_Route_V3_Route, filters: [String]) -> SimulatedFault? {
        let name = "envoy.filters.http.fault"
        guard filters.contains(name), let any = route.typedPerFilterConfig[name],
            let config = try? Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault(serializedBytes: any.value)
        else { return nil }
        var fault = SimulatedFault()
        if config.hasDelay {
            let fixed = config.delay.fixedDelay
            fault.delay = (fixed.seconds * 1000 + Int64(fixed.nanos / 1_000_000), Self.perMillion(config.delay.percentage))
        }
        if config.hasAbort {
            let status: String
            switch config.abort.errorType {
            case .httpStatus(let code): status = "http:\(code)"
            case .grpcStatus(let code): status = "grpc:\(code)"
            case nil: status = "none"
            }
            fault.abort = (status, Self.perMillion(config.abort.percentage))
        }
        return fault
    }

    private func outcome(of route: Envoy_Config_Route_V3_Route, path: String) -> SimulatedOutcome {
        switch route.action {
        case .directResponse(let direct):
            return .directResponse(status: direct.status)
        case .redirect(let redirect):
            let status: UInt32 =
                switch redirect.responseCode {
                case .found: 302
                case .seeOther: 303
                case .temporaryRedirect: 307
                case .permanentRedirect: 308
                default: 301
                }
            let port = redirect.portRedirect == 0 ? "" : ":\(redirect.portRedirect)"
            // A path rewrite keeps the request's path through Envoy's rewrite; no path part
            // means the path is left as it was (shown empty, like the other parts).
            var location = redirect.pathRedirect
            switch redirect.pathRewriteSpecifier {
            case .regexRewrite(let regex):
                let pathOnly = String(path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0])
                location = Self.substitute(pathOnly, pattern: regex.pattern.regex, with: regex.substitution)
            case .prefixRewrite(let prefix):
                if case .prefix(let matched) = route.match.pathSpecifier { location = prefix + path.dropFirst(matched.count) }
            default: break
            }
            return .redirect(location: "\(redirect.schemeRedirect)://\(redirect.hostRedirect)\(port)\(location)", status: status)
        case .route(let action):
            switch action.clusterSpecifier {
            case .cluster(let name):
                guard let cluster = clusters[name] else { return .noCluster(name) }
                return .cluster(name, endpoints: endpoints(of: cluster))
            case .weightedClusters(let weighted):
                for target in weighted.clusters where clusters[target.name] == nil { return .noCluster(target.name) }
                return .weighted(weighted.clusters.map { .init($0.name, $0.weight.value) })
            case nil:
                return .noRoute
            }
        case .nonForwardingAction, nil:
            return .noRoute
        }
    }

    /// `ADDRESS:PORT` of every endpoint the cluster's load assignment lists (over EDS, or
    /// inline for STATIC and DNS clusters), sorted.
    func endpoints(of cluster: Envoy_Config_Cluster_V3_Cluster) -> [String] {
        let name = cluster.edsClusterConfig.serviceName.isEmpty ? cluster.name : cluster.edsClusterConfig.serviceName
        let localities = cluster.type == .eds ? assignments[name]?.endpoints ?? [] : cluster.loadAssignment.endpoints
        return localities.flatMap(\.lbEndpoints).map { endpoint in
            let socket = endpoint.endpoint.address.socketAddress
            return "\(socket.address):\(socket.portValue)"
        }.sorted()
    }

    // MARK: - Envoy's matching rules

    /// Envoy's virtual host selection: an exact domain, else the longest suffix wildcard
    /// (`*.example.com`), else the longest prefix wildcard (`example.*`), else `*`. Domains are
    /// compared case-insensitively; a wildcard stands for at least one character.
    public static func virtualHost(for authority: String, in hosts: [Envoy_Config_Route_V3_VirtualHost]) -> Envoy_Config_Route_V3_VirtualHost? {
        let host = authority.lowercased()
        var bestSuffix: (length: Int, host: Envoy_Config_Route_V3_VirtualHost)?
        var bestPrefix: (length: Int, host: Envoy_Config_Route_V3_VirtualHost)?
        var catchAll: Envoy_Config_Route_V3_VirtualHost?
        for candidate in hosts {
            for domain in candidate.domains.map({ $0.lowercased() }) {
                if domain == host { return candidate }
                if domain == "*" {
                    if catchAll == nil { catchAll = candidate }
                } else if domain.hasPrefix("*") {
                    let suffix = domain.dropFirst()
                    if host.count > suffix.count, host.hasSuffix(suffix), suffix.count > (bestSuffix?.length ?? -1) {
                        bestSuffix = (suffix.count, candidate)
                    }
                } else if domain.hasSuffix("*") {
                    let prefix = domain.dropLast()
                    if host.count > prefix.count, host.hasPrefix(prefix), prefix.count > (bestPrefix?.length ?? -1) {
                        bestPrefix = (prefix.count, candidate)
                    }
                }
            }
        }
        return bestSuffix?.host ?? bestPrefix?.host ?? catchAll
    }

    public static func matches(_ match: Envoy_Config_Route_V3_RouteMatch, path: String, headers: [String: String]) -> Bool {
        // The query string is not part of the path a route's path specifier sees.
        let pathOnly = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? path
        let caseSensitive = match.hasCaseSensitive ? match.caseSensitive.value : true
        let pathMatches: Bool
        switch match.pathSpecifier {
        case .prefix(let prefix):
            pathMatches = caseSensitive ? pathOnly.hasPrefix(prefix) : pathOnly.lowercased().hasPrefix(prefix.lowercased())
        case .path(let exact):
            pathMatches = caseSensitive ? pathOnly == exact : pathOnly.lowercased() == exact.lowercased()
        case .safeRegex(let regex):
            pathMatches = RegexSyntax.fullMatch(regex.regex, pathOnly) ?? false
        case nil:
            pathMatches = false
        }
        return pathMatches && match.headers.allSatisfy { matches($0, headers: headers) }
            && match.queryParameters.allSatisfy { matches($0, query: query(of: path)) }
    }

    /// The query string's parameters (`a=1&b` → a: 1, b: ""); the last of a repeated name wins.
    static func query(of path: String) -> [String: String] {
        guard let start = path.firstIndex(of: "?") else { return [:] }
        var parameters: [String: String] = [:]
        for pair in path[path.index(after: start)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            parameters[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        return parameters
    }

    /// Envoy's query parameter matcher: present, or the value by a string matcher.
    public static func matches(_ matcher: Envoy_Config_Route_V3_QueryParameterMatcher, query: [String: String]) -> Bool {
        guard let value = query[matcher.name] else { return false }
        switch matcher.queryParameterMatchSpecifier {
        case .presentMatch(let present): return present
        case .stringMatch(let string): return matches(string, value)
        case nil: return true
        }
    }

    /// Envoy's `HeaderUtility::matchHeaders`: an absent header counts as empty with
    /// `treat_missing_header_as_empty`; otherwise it matches only `present_match: false` (or,
    /// inverted, `present_match: true`); a present value is matched and the result inverted
    /// when `invert_match` is set.
    public static func matches(_ matcher: Envoy_Config_Route_V3_HeaderMatcher, headers: [String: String]) -> Bool {
        var found = headers[matcher.name.lowercased()]
        if found == nil, matcher.treatMissingHeaderAsEmpty { found = "" }
        guard let value = found else {
            if case .presentMatch(let present) = matcher.headerMatchSpecifier {
                return matcher.invertMatch ? present : !present
            }
            return false
        }
        let result: Bool
        switch matcher.headerMatchSpecifier {
        case .exactMatch(let exact): result = value == exact
        case .prefixMatch(let prefix): result = value.hasPrefix(prefix)
        case .suffixMatch(let suffix): result = value.hasSuffix(suffix)
        case .safeRegexMatch(let regex): result = RegexSyntax.fullMatch(regex.regex, value) ?? false
        case .presentMatch(let present): result = present
        case .stringMatch(let string): result = matches(string, value)
        case nil: result = true
        }
        return matcher.invertMatch ? !result : result
    }

    public static func matches(_ matcher: Envoy_Type_Matcher_V3_StringMatcher, _ value: String) -> Bool {
        let fold: (String) -> String = matcher.ignoreCase ? { $0.lowercased() } : { $0 }
        switch matcher.matchPattern {
        case .exact(let exact): return fold(value) == fold(exact)
        case .prefix(let prefix): return fold(value).hasPrefix(fold(prefix))
        case .suffix(let suffix): return fold(value).hasSuffix(fold(suffix))
        case .contains(let part): return fold(value).contains(fold(part))
        case .safeRegex(let regex): return RegexSyntax.fullMatch(regex.regex, value) ?? false
        case nil: return false
        }
    }
}

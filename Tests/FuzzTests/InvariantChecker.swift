import EnvoyAPI
import Foundation
import MeshModel
import PushPipeline
import SwiftProtobuf
import Translator
import XDS
import XDSCore

/// One broken invariant in generated resources.
struct Violation: Sendable, Hashable, CustomStringConvertible {
    /// The invariant's short name, used to group findings (`route-names-missing-cluster`).
    var invariant: String
    var detail: String

    var description: String { "\(invariant): \(detail)" }

    /// Invariants the product is known to break (reported, counted, not failed on when
    /// `MESHD_FUZZ_KNOWN_CRASHES=0`). Empty: every gap found so far is fixed — RE2 validation,
    /// locality weight sums, empty route names, empty retryOn, endpoint addresses.
    static let knownGaps: Set<String> = []
}

/// The properties every generated snapshot must have, whatever config produced it: what a proxy
/// (Envoy, grpcio) would otherwise reject or silently mishandle.
///
/// - every resource decodes again from its encoded bytes (as its declared type), re-encodes to
///   the same bytes, and has a non-empty name equal to the resource's own name field;
/// - every route names clusters that exist (CDS), every cluster's EDS name has an assignment;
/// - weighted clusters: at least one weight > 0, the sum fits in UInt32, every weight > 0;
/// - endpoints: each locality's weight ≥ 1, endpoint weights ≥ 1 whose sum per locality and the
///   sum of locality weights fit in UInt32, ports 1...65535, addresses non-empty;
/// - listeners: an API listener whose HttpConnectionManager fetches an existing route
///   configuration over ADS, Router filter last;
/// - durations within protobuf's range (0...315,576,000,000 s, nanos < 10^9);
/// - regexes non-empty and RE2 syntax (no backreferences or lookaround; parses).
enum InvariantChecker {
    static let maxDurationSeconds: Int64 = 315_576_000_000

    static func check(_ snapshot: ProxySnapshot) -> [Violation] {
        var violations: [Violation] = []
        func fail(_ invariant: String, _ detail: String) { violations.append(Violation(invariant: invariant, detail: detail)) }

        let clusters = snapshot.of(TypeURL.cluster)
        let endpoints = snapshot.of(TypeURL.endpoint)
        let routes = snapshot.of(TypeURL.route)
        let listeners = snapshot.of(TypeURL.listener)

        for (typeURL, resources) in snapshot.resources.sorted(by: { $0.key < $1.key }) {
            for (name, resource) in resources.sorted(by: { $0.key < $1.key }) {
                if name.isEmpty || resource.name != name { fail("resource-name", "\(XDSTypeRegistry.standard.shortName(typeURL)) named \"\(name)\"") }
                if resource.payload.typeURL != typeURL {
                    fail("type-url", "\(name): payload \(resource.payload.typeURL) under \(typeURL)")
                }
            }
        }

        for (name, resource) in clusters.sorted(by: { $0.key < $1.key }) {
            guard let cluster: Envoy_Config_Cluster_V3_Cluster = decode(resource, &violations) else { continue }
            if cluster.name != name { fail("resource-name", "cluster \(name) encodes name \(cluster.name)") }
            if cluster.type == .logicalDns {
                // gRPC resolves exactly one name in a LOGICAL_DNS cluster, carried inline.
                let addresses = cluster.loadAssignment.endpoints.flatMap(\.lbEndpoints).map(\.endpoint.address.socketAddress)
                if addresses.count != 1 || addresses[0].address.isEmpty || addresses[0].portValue == 0 {
                    fail("logical-dns-target", "cluster \(name) must name one host and port, names \(addresses)")
                }
                if endpoints[name] != nil { fail("logical-dns-target", "cluster \(name) is LOGICAL_DNS but has an EDS assignment") }
                continue
            }
            if cluster.type != .eds { fail("cluster-type", "cluster \(name) has type \(cluster.type), which gRPC NACKs") }
            let eds = cluster.edsClusterConfig.serviceName.isEmpty ? name : cluster.edsClusterConfig.serviceName
            if endpoints[eds] == nil { fail("cluster-without-assignment", "cluster \(name) names EDS \(eds), which is not generated") }
        }

        for (name, resource) in endpoints.sorted(by: { $0.key < $1.key }) {
            guard let cla: Envoy_Config_Endpoint_V3_ClusterLoadAssignment = decode(resource, &violations) else { continue }
            if cla.clusterName != name { fail("resource-name", "assignment \(name) encodes name \(cla.clusterName)") }
            var localityTotal: UInt64 = 0
            for group in cla.endpoints {
                let locality = "\(group.locality.region)/\(group.locality.zone)/\(group.locality.subZone)"
                if !group.hasLoadBalancingWeight || group.loadBalancingWeight.value < 1 {
                    fail("locality-weight", "\(name) locality \(locality) has weight \(group.loadBalancingWeight.value) (grpcio drops it)")
                }
                localityTotal += UInt64(group.loadBalancingWeight.value)
                var sum: UInt64 = 0
                for lb in group.lbEndpoints {
                    sum += UInt64(lb.loadBalancingWeight.value)
                    if lb.loadBalancingWeight.value < 1 { fail("endpoint-weight", "\(name) has an endpoint of weight 0") }
                    let socket = lb.endpoint.address.socketAddress
                    if socket.address.isEmpty { fail("endpoint-address", "\(name) has an endpoint without an address") }
                    if !socket.address.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) {
                        fail("endpoint-address-ascii", "\(name) has endpoint address \(socket.address.debugDescription), which no resolver accepts")
                    }
                    if !(1...65535).contains(socket.portValue) { fail("endpoint-port", "\(name) has endpoint port \(socket.portValue)") }
                }
                if sum > UInt64(UInt32.max) { fail("endpoint-weights-sum", "\(name) locality \(locality) endpoint weights sum to \(sum)") }
            }
            if localityTotal > UInt64(UInt32.max) { fail("locality-weights-sum", "\(name) locality weights sum to \(localityTotal)") }
        }

        for (name, resource) in listeners.sorted(by: { $0.key < $1.key }) {
            guard let listener: Envoy_Config_Listener_V3_Listener = decode(resource, &violations) else { continue }
            if listener.name != name { fail("resource-name", "listener \(name) encodes name \(listener.name)") }
            guard
                let manager = try? Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager(
                    serializedBytes: listener.apiListener.apiListener.value)
            else {
                fail("decode", "listener \(name): API listener is not an HttpConnectionManager")
                continue
            }
            if routes[manager.rds.routeConfigName] == nil {
                fail("listener-names-missing-route", "listener \(name) fetches route configuration \"\(manager.rds.routeConfigName)\"")
            }
            if manager.httpFilters.last?.name != HTTPFilters.routerName {
                fail("router-filter-last", "listener \(name): last HTTP filter is \(manager.httpFilters.last?.name ?? "none")")
            }
        }

        for (name, resource) in routes.sorted(by: { $0.key < $1.key }) {
            guard let configuration: Envoy_Config_Route_V3_RouteConfiguration = decode(resource, &violations) else { continue }
            if configuration.name != name { fail("resource-name", "route configuration \(name) encodes name \(configuration.name)") }
            for host in configuration.virtualHosts {
                if host.name.isEmpty || host.domains.isEmpty || host.domains.contains("") {
                    fail("virtual-host", "\(name): virtual host \"\(host.name)\" domains \(host.domains)")
                }
                for route in host.routes {
                    checkRoute(route, in: name, clusters: clusters, fail: fail)
                }
            }
        }
        return violations
    }

    private static func checkRoute(
        _ route: Envoy_Config_Route_V3_Route, in name: String, clusters: [String: XDSResource],
        fail: (String, String) -> Void
    ) {
        let subject = "\(name) route \"\(route.name)\""
        if route.name.isEmpty { fail("route-name", "\(name) has a route without a name") }
        switch route.match.pathSpecifier {
        case .safeRegex(let regex)?: checkRegex(regex.regex, subject, fail)
        case nil: fail("route-match", "\(subject) has no path specifier")
        default: break
        }
        for header in route.match.headers {
            if header.name.isEmpty { fail("header-name", "\(subject) matches a header without a name") }
            if case .stringMatch(let matcher)? = header.headerMatchSpecifier, case .safeRegex(let regex)? = matcher.matchPattern {
                checkRegex(regex.regex, subject, fail)
            }
        }
        switch route.action {
        case .route(let action)?:
            switch action.clusterSpecifier {
            case .cluster(let cluster)?:
                if clusters[cluster] == nil { fail("route-names-missing-cluster", "\(subject) names cluster \"\(cluster)\"") }
            case .weightedClusters(let weighted)?:
                var sum: UInt64 = 0
                for item in weighted.clusters {
                    sum += UInt64(item.weight.value)
                    if clusters[item.name] == nil { fail("route-names-missing-cluster", "\(subject) names cluster \"\(item.name)\"") }
                    if item.weight.value == 0 { fail("weighted-cluster-zero", "\(subject): \(item.name) has weight 0") }
                }
                if weighted.clusters.isEmpty { fail("weighted-clusters-empty", subject) }
                if sum == 0 { fail("weighted-clusters-all-zero", "\(subject): weights all zero") }
                if sum > UInt64(UInt32.max) { fail("weighted-clusters-sum", "\(subject): weights sum to \(sum)") }
            default:
                fail("route-action", "\(subject) has a route action without a cluster")
            }
            checkDuration(action.hasTimeout ? action.timeout : nil, "\(subject) timeout", fail)
            checkDuration(action.hasMaxStreamDuration ? action.maxStreamDuration.maxStreamDuration : nil, "\(subject) max_stream_duration", fail)
            if action.hasRetryPolicy {
                checkDuration(action.retryPolicy.hasPerTryTimeout ? action.retryPolicy.perTryTimeout : nil, "\(subject) per_try_timeout", fail)
                if action.retryPolicy.retryOn.isEmpty { fail("retry-on", "\(subject) retries on nothing") }
            }
        case .directResponse(let direct)?:
            if !(200...599).contains(direct.status) { fail("direct-response", "\(subject) answers status \(direct.status)") }
        default:
            fail("route-action", "\(subject) has neither a route nor a direct response")
        }
    }

    private static func checkDuration(_ duration: Google_Protobuf_Duration?, _ what: String, _ fail: (String, String) -> Void) {
        guard let duration else { return }
        if duration.seconds < 0 || duration.seconds > maxDurationSeconds || duration.nanos < 0 || duration.nanos > 999_999_999 {
            fail("duration-range", "\(what) is \(duration.seconds)s \(duration.nanos)ns, outside protobuf's Duration range")
        }
    }

    /// Every regex sent to proxies must compile in RE2, the engine Envoy and grpcio use; RE2
    /// itself (through MeshModel's shim) is the judge, not an approximation.
    private static func checkRegex(_ pattern: String, _ what: String, _ fail: (String, String) -> Void) {
        if pattern.isEmpty {
            fail("regex-empty", "\(what) has an empty regex")
            return
        }
        if let problem = RegexSyntax.problem(in: pattern) {
            fail("regex-not-re2", "\(what) has regex \(pattern.debugDescription), which RE2 (Envoy, grpcio) refuses: \(problem)")
        }
    }

    /// Decodes `resource` as `M`, and checks that re-encoding gives the same bytes.
    private static func decode<M: SwiftProtobuf.Message>(_ resource: XDSResource, _ violations: inout [Violation]) -> M? {
        let bytes = resource.payload.value
        guard let message = try? M(serializedBytes: bytes) else {
            violations.append(Violation(invariant: "decode", detail: "\(resource.name) does not decode as \(M.protoMessageName)"))
            return nil
        }
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        let again: Data? = try? message.serializedBytes(options: options)
        if again != bytes {
            violations.append(Violation(invariant: "re-encode", detail: "\(resource.name) re-encodes to different bytes"))
        }
        return message
    }
}

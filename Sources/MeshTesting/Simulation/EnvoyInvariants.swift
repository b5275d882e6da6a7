import EnvoyAPI
import Foundation
import PushPipeline
import SwiftProtobuf
import Translator
import XDSCore

/// The rules Envoy enforces across an xDS snapshot (beyond one message's validation), checked
/// on the decoded bytes a proxy would receive: a violation here is a NACK or a listener Envoy
/// refuses, or a reference left dangling (traffic hangs or fails).
///
/// - listener names and socket addresses are unique;
/// - within a listener no two filter chains have the same match;
/// - within a route configuration no domain is listed twice (case-insensitively);
/// - every route configuration a connection manager names over RDS exists, and every one sent
///   is named by some listener;
/// - every cluster a route or tcp_proxy names exists;
/// - every EDS cluster's load assignment exists, and every load assignment sent belongs to an
///   EDS cluster.
public enum EnvoyInvariants {
    /// Every violation in `snapshot`, each naming the resource; empty when it holds.
    public static func violations(in snapshot: ProxySnapshot) -> [String] {
        var problems: [String] = []
        func decode<M: SwiftProtobuf.Message>(_ typeURL: String, _: M.Type) -> [String: M] {
            var decoded: [String: M] = [:]
            for (name, resource) in snapshot.of(typeURL) {
                do { decoded[name] = try M(serializedBytes: resource.payload.value) } catch { problems.append("\(name): does not decode: \(error)") }
            }
            return decoded
        }
        let listeners = decode(TypeURL.listener, Envoy_Config_Listener_V3_Listener.self)
        let routes = decode(TypeURL.route, Envoy_Config_Route_V3_RouteConfiguration.self)
        let clusters = decode(TypeURL.cluster, Envoy_Config_Cluster_V3_Cluster.self)
        let assignments = decode(TypeURL.endpoint, Envoy_Config_Endpoint_V3_ClusterLoadAssignment.self)

        var addresses: [String: String] = [:]
        var routeNames: Set<String> = []
        var clusterNames: [(String, String)] = []  // (referrer, cluster)
        for (name, listener) in listeners.sorted(by: { $0.key < $1.key }) {
            if listener.name != name { problems.append("listener \(name): resource named \(name) but the listener says \(listener.name)") }
            if listener.hasAddress {
                let socket = listener.address.socketAddress
                let address = "\(socket.address):\(socket.portValue)"
                if let other = addresses.updateValue(name, forKey: address) {
                    problems.append("listener \(name): address \(address) is also listener \(other)'s")
                }
            }
            var matches: [Data: String] = [:]
            for chain in listener.filterChains {
                let key: Data = (try? chain.filterChainMatch.serializedBytes(options: deterministic)) ?? Data()
                if let other = matches.updateValue(chain.name, forKey: key) {
                    problems.append("listener \(name): filter chains \(other) and \(chain.name) have the same match")
                }
            }
            let chains = listener.filterChains + (listener.hasDefaultFilterChain ? [listener.defaultFilterChain] : [])
            for filter in chains.flatMap(\.filters) {
                let referrer = "listener \(name)"
                if let manager = try? Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager(
                    serializedBytes: filter.typedConfig.value),
                    filter.typedConfig.typeURL.hasSuffix("HttpConnectionManager")
                {
                    switch manager.routeSpecifier {
                    case .rds(let rds)?:
                        routeNames.insert(rds.routeConfigName)
                        if routes[rds.routeConfigName] == nil { problems.append("\(referrer): RDS \(rds.routeConfigName) was not sent") }
                    case .routeConfig(let inline)?:
                        problems += domainProblems(inline, "\(referrer) inline routes")
                        clusterNames += routeClusters(inline).map { ("\(referrer) inline routes", $0) }
                    case nil:
                        if !listener.hasApiListener { problems.append("\(referrer): a connection manager without routes") }
                    }
                } else if filter.typedConfig.typeURL.hasSuffix("TcpProxy"),
                    let proxy = try? Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy(serializedBytes: filter.typedConfig.value)
                {
                    switch proxy.clusterSpecifier {
                    case .cluster(let cluster)?: clusterNames.append((referrer, cluster))
                    case .weightedClusters(let weighted)?: clusterNames += weighted.clusters.map { (referrer, $0.name) }
                    case nil: problems.append("\(referrer): a tcp_proxy without a cluster")
                    }
                }
            }
            if listener.hasApiListener,
                let manager = try? Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager(
                    serializedBytes: listener.apiListener.apiListener.value),
                case .rds(let rds)? = manager.routeSpecifier
            {
                routeNames.insert(rds.routeConfigName)
                if routes[rds.routeConfigName] == nil { problems.append("listener \(name): RDS \(rds.routeConfigName) was not sent") }
            }
        }
        for (name, configuration) in routes.sorted(by: { $0.key < $1.key }) {
            if !routeNames.contains(name) { problems.append("route configuration \(name): no listener names it") }
            problems += domainProblems(configuration, "route configuration \(name)")
            clusterNames += routeClusters(configuration).map { ("route configuration \(name)", $0) }
        }
        for (referrer, cluster) in clusterNames where clusters[cluster] == nil {
            problems.append("\(referrer): cluster \(cluster) was not sent")
        }
        var edsNames: Set<String> = []
        for (name, cluster) in clusters.sorted(by: { $0.key < $1.key }) where cluster.type == .eds {
            let service = cluster.edsClusterConfig.serviceName.isEmpty ? name : cluster.edsClusterConfig.serviceName
            edsNames.insert(service)
            if assignments[service] == nil { problems.append("cluster \(name): load assignment \(service) was not sent") }
        }
        for name in assignments.keys.sorted() where !edsNames.contains(name) {
            problems.append("load assignment \(name): no EDS cluster names it")
        }
        return problems
    }

    private static var deterministic: BinaryEncodingOptions {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return options
    }

    private static func domainProblems(_ configuration: Envoy_Config_Route_V3_RouteConfiguration, _ what: String) -> [String] {
        var seen: [String: String] = [:]
        var problems: [String] = []
        for host in configuration.virtualHosts {
            for domain in host.domains {
                if let other = seen.updateValue(host.name, forKey: domain.lowercased()) {
                    problems.append("\(what): domain \(domain) is in virtual hosts \(other) and \(host.name)")
                }
            }
        }
        return problems
    }

    private static func routeClusters(_ configuration: Envoy_Config_Route_V3_RouteConfiguration) -> [String] {
        configuration.virtualHosts.flatMap(\.routes).flatMap { route -> [String] in
            guard case .route(let action)? = route.action else { return [] }
            switch action.clusterSpecifier {
            case .cluster(let name)?: return [name]
            case .weightedClusters(let weighted)?: return weighted.clusters.map(\.name)
            default: return []
            }
        }
    }
}

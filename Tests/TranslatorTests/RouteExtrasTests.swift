import EnvoyAPI
import MeshModel
import MeshTesting
import PushPipeline
import SwiftProtobuf
import Testing
import XDS
import XDSCore

@testable import Translator

private let reviews = "reviews.default.svc.cluster.local"

private func virtualService(_ rules: String, hosts: String = "[reviews]") -> String {
    """
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: reviews, namespace: default}
    spec:
      hosts: \(hosts)
    \(rules.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
    """
}

private func routes(_ push: PushContext, kind: ProxyKind = .proxylessGRPC) throws -> [Envoy_Config_Route_V3_Route] {
    let resources = GeneratorTable.testing.resources(TypeURL.route, for: Proxy(id: "p", kind: kind), in: push)
    // gRPC: one configuration per host:port; Envoy sidecars: one per port, a virtual host per host:port.
    let configuration = try #require(resources.first { $0.name == "\(reviews):9080" || $0.name == "9080" })
    let decoded = try Envoy_Config_Route_V3_RouteConfiguration(serializedBytes: configuration.payload.value)
    return try #require(decoded.virtualHosts.first { $0.name == "\(reviews):9080" }).routes
}

/// What meshd sends for the VirtualService fields only Envoy honours, and what it keeps from
/// gRPC clients.
@Suite struct RouteExtrasTests {
    /// CORS reaches Envoy proxies (filter + per-route policy) and never a gRPC client, which
    /// would NACK the unknown per-route filter type.
    @Test func corsGoesToEnvoyOnly() throws {
        let push = try context([
            CanaryFixture.registry,
            virtualService(
                """
                http:
                - corsPolicy: {allowOrigins: [{prefix: "https://"}], allowMethods: [GET], maxAge: 10s}
                  route: [{destination: {host: reviews}}]
                """),
        ])
        let grpcRoute = try routes(push)[0]
        #expect(grpcRoute.typedPerFilterConfig[RouteCors.filterName] == nil)
        let envoyRoute = try routes(push, kind: .sidecar)[0]
        let any = try #require(envoyRoute.typedPerFilterConfig[RouteCors.filterName])
        #expect(any.typeURL == "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy")
        let policy = try Envoy_Extensions_Filters_Http_Cors_V3_CorsPolicy(serializedBytes: any.value)
        #expect(policy.allowOriginStringMatch.map(\.prefix) == ["https://"])
        #expect(policy.allowMethods == "GET" && policy.maxAge == "10")
        #expect(policy.forwardNotMatchingPreflights.value)

        func filters(_ kind: ProxyKind) throws -> [String] {
            let listeners = GeneratorTable.testing.resources(TypeURL.listener, for: Proxy(id: "p", kind: kind), in: push)
            let listener = try #require(listeners.first { $0.name == "\(reviews):9080" || $0.name == "0.0.0.0_9080" })
            let decoded = try Envoy_Config_Listener_V3_Listener(serializedBytes: listener.payload.value)
            let manager = decoded.hasApiListener ? decoded.apiListener.apiListener.value : decoded.filterChains[0].filters[0].typedConfig.value
            return try Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager(serializedBytes: manager)
                .httpFilters.map(\.name)
        }
        #expect(try filters(.proxylessGRPC) == [RouteFault.filterName, HTTPFilters.routerName])
        #expect(try filters(.sidecar) == [RouteFault.filterName, RouteCors.filterName, HTTPFilters.routerName])
    }

    /// A mirror destination's service comes into the view (so its cluster is sent) even when a
    /// Sidecar would not import it; the route names it only while it resolves.
    @Test func aMirroredServiceIsImportedAndItsClusterSent() throws {
        let push = try context([
            CanaryFixture.registry, serviceEntry("ratings", "default"),
            sidecar("default", "default", "egress: [{hosts: [\"./reviews.default.svc.cluster.local\"]}]"),
            virtualService(
                """
                http:
                - mirrors: [{destination: {host: ratings}, percentage: {value: 12.5}}, {destination: {host: nowhere}}]
                  route: [{destination: {host: reviews}}]
                """),
        ])
        let clusters = GeneratorTable.testing.resources(TypeURL.cluster, for: Proxy(id: "p"), in: push).map(\.name)
        #expect(clusters.contains("outbound|9080||ratings.default.svc.cluster.local"))
        // Without the mirror, the Sidecar keeps ratings out.
        let unmirrored = try context([
            CanaryFixture.registry, serviceEntry("ratings", "default"),
            sidecar("default", "default", "egress: [{hosts: [\"./reviews.default.svc.cluster.local\"]}]"),
        ])
        #expect(
            !GeneratorTable.testing.resources(TypeURL.cluster, for: Proxy(id: "p"), in: unmirrored).map(\.name).contains { $0.contains("ratings") })
        let action = try routes(push)[0].route
        #expect(action.requestMirrorPolicies.map(\.cluster) == ["outbound|9080||ratings.default.svc.cluster.local"])
        #expect(action.requestMirrorPolicies[0].runtimeFraction.defaultValue.numerator == 125_000)
        #expect(push.warnings.contains { $0.field == "spec.http[0].mirrors[1].destination.host" })
        let dependencies = GeneratorTable.testing.resources(TypeURL.route, for: Proxy(id: "p"), in: push).first { $0.name == "\(reviews):9080" }?
            .dependencies
        #expect(dependencies?.contains("outbound|9080||ratings.default.svc.cluster.local") == true)
    }

    /// Header operations: set overwrites, add appends, the authority becomes the host rewrite
    /// and is never a header operation (Envoy refuses to modify it); a weighted destination's
    /// operations go on its cluster weight.
    @Test func headerOperationsAsIstioWritesThem() throws {
        let push = try context([
            CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            virtualService(
                """
                http:
                - headers: {request: {set: {b: "1", ":authority": new.example}, add: {a: "2"}, remove: [c]}, response: {add: {d: "3"}}}
                  route:
                  - {destination: {host: reviews, subset: v1}, weight: 1, headers: {request: {set: {host: v1.example, e: "4"}}}}
                  - {destination: {host: reviews, subset: v2}, weight: 1}
                """),
        ])
        let route = try routes(push)[0]
        #expect(
            route.requestHeadersToAdd.map { "\($0.header.key)=\($0.header.value)/\($0.appendAction)" }
                == ["b=1/overwriteIfExistsOrAdd", "a=2/appendIfExistsOrAdd"])
        #expect(route.requestHeadersToRemove == ["c"])
        #expect(route.responseHeadersToAdd.map(\.header.key) == ["d"])
        #expect(route.route.hostRewriteLiteral == "new.example")
        let weight = route.route.weightedClusters.clusters[0]
        #expect(weight.requestHeadersToAdd.map(\.header.key) == ["e"])
        #expect(weight.hostRewriteLiteral == "v1.example")
        #expect(route.route.weightedClusters.clusters[1].requestHeadersToAdd.isEmpty)
    }

    /// Istio's redirect ports: FROM_REQUEST_PORT is the listener's port, a scheme's default
    /// port is left out.
    @Test(arguments: [
        ("derivePort: FROM_REQUEST_PORT", UInt32(9080)), ("derivePort: FROM_PROTOCOL_DEFAULT", 0),
        ("port: 80", 0), ("port: 443, scheme: https", 0), ("port: 8443, scheme: https", 8443),
    ])
    func redirectPorts(_ redirect: String, port: UInt32) throws {
        let push = try context([CanaryFixture.registry, virtualService("http:\n- redirect: {uri: /x, \(redirect)}")])
        #expect(try routes(push)[0].redirect.portRedirect == port)
    }

    /// Rewrites: uri is a prefix rewrite, uriRegexRewrite a regex rewrite, and the authority of
    /// `rewrite` wins over a header operation's.
    @Test func rewrites() throws {
        let push = try context([
            CanaryFixture.registry,
            virtualService(
                """
                http:
                - match: [{uri: {exact: /a/b}}]
                  rewrite: {uri: /c, authority: x.example}
                  headers: {request: {set: {host: y.example}}}
                  route: [{destination: {host: reviews}}]
                - rewrite: {uriRegexRewrite: {match: "^/(.*)$", rewrite: "/v2/\\\\1"}}
                  route: [{destination: {host: reviews}}]
                """),
        ])
        let all = try routes(push)
        #expect(all[0].route.prefixRewrite == "/c" && all[0].route.hostRewriteLiteral == "x.example")
        #expect(all[1].route.regexRewrite.pattern.regex == "^/(.*)$" && all[1].route.regexRewrite.substitution == "/v2/\\1")
        let simulation = try TrafficSimulation(snapshot: ProxySnapshot(proxy: Proxy(id: "p"), push: push, table: .testing))
        #expect(simulation.run(.init(authority: "\(reviews):9080", path: "/a/b")).forwarded?.path == "/c")
        #expect(simulation.run(.init(authority: "\(reviews):9080", path: "/q?x")).forwarded?.path == "/v2/q?x")
    }
}

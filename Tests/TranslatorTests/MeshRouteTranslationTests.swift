import MeshModel
import MeshTesting
import Testing
import Translator

/// Gateway API routes attached to Services: status, ReferenceGrants and the rule where a route
/// and a VirtualService name one host.
@Suite struct MeshRouteTranslationTests {
    static let services = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: reviews, namespace: default}
        spec:
          hosts: [reviews.default.svc.cluster.local]
          ports: [{number: 9080, name: http, protocol: HTTP}]
          resolution: STATIC
          endpoints: [{address: 10.0.3.1}]
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: ratings, namespace: prod}
        spec:
          hosts: [ratings.prod.svc.cluster.local]
          ports: [{number: 9080, name: http, protocol: HTTP}]
          resolution: STATIC
          endpoints: [{address: 10.0.3.2}]
        """

    static func route(_ name: String = "reviews", namespace: String = "default", parent: String = "reviews", backends: String) -> String {
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
          parentRefs: [{group: "", kind: Service, name: \(parent), port: 9080}]
          rules:
          - backendRefs: \(backends)
        """
    }

    static let grant = """
        apiVersion: gateway.networking.k8s.io/v1beta1
        kind: ReferenceGrant
        metadata: {name: from-default, namespace: prod}
        spec:
          from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]
          to: [{group: "", kind: Service, name: ratings}]
        """

    static let key = ConfigKey(kind: .httpRoute, namespace: "default", name: "reviews")

    /// A route on every port of `reviews` whose one rule has `filters` and sends to reviews.
    static func filtered(_ filters: String) -> String {
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: reviews, namespace: default}
        spec:
          parentRefs: [{group: "", kind: Service, name: reviews}]
          rules: [{filters: \(filters), backendRefs: [{name: reviews, port: 9080}]}]
        """
    }

    func condition(_ push: PushContext, _ type: String) -> RouteStatus.Condition? {
        push.routeStatuses[Self.key]?.parents.first?.condition(type)
    }

    @Test func aCrossNamespaceBackendNeedsAReferenceGrant() throws {
        let refused = try context([Self.services, Self.route(backends: "[{name: ratings, namespace: prod, port: 9080}]")])
        #expect(condition(refused, "Accepted")?.isTrue == true)
        #expect(condition(refused, "ResolvedRefs")?.reason == "RefNotPermitted")
        #expect(refused.warnings.contains { $0.key == Self.key && $0.field == "spec.rules[0].backendRefs[0]" })
        // Not routed: the rule has no valid backend, so it answers 500.
        let entry = try #require(refused.virtualService(for: "reviews.default.svc.cluster.local", serviceNamespace: "default", from: "default"))
        #expect(entry.spec.http.first?.directResponse?.status == 500)

        let granted = try context([Self.services, Self.grant, Self.route(backends: "[{name: ratings, namespace: prod, port: 9080}]")])
        #expect(condition(granted, "ResolvedRefs")?.isTrue == true)
        let routed = try #require(granted.virtualService(for: "reviews.default.svc.cluster.local", serviceNamespace: "default", from: "default"))
        #expect(routed.spec.http.first?.route.map(\.destination.host) == ["ratings.prod.svc.cluster.local"])
        #expect(routed.routes == [Self.key])
    }

    @Test func missingParentsAndBackendsAreReported() throws {
        let push = try context([
            Self.services, Self.route(parent: "details", backends: "[{name: reviews, port: 9080}]"),
            Self.route("other", backends: "[{name: reviews, port: 9080, weight: 1}, {name: gone, port: 9080}]"),
        ])
        #expect(
            condition(push, "Accepted")
                == .init(type: "Accepted", isTrue: false, reason: "NoMatchingParent", message: "parent service: \"details\" not found"))
        let other = push.routeStatuses[ConfigKey(kind: .httpRoute, namespace: "default", name: "other")]?.parents.first
        #expect(other?.condition("ResolvedRefs")?.reason == "BackendNotFound")
        #expect(other?.condition("ResolvedRefs")?.message == "backend(gone.default.svc.cluster.local) not found")
    }

    @Test func anExtensionFilterAnswers500AndIsReported() throws {
        let push = try context([
            Self.services,
            Self.filtered("[{type: ExtensionRef, extensionRef: {group: example.org, kind: Auth, name: a}}]"),
        ])
        #expect(condition(push, "ResolvedRefs")?.reason == "InvalidKind")
        #expect(push.warnings.contains { $0.field == "spec.rules[0].filters[0].extensionRef" })
        let entry = try #require(push.virtualService(for: "reviews.default.svc.cluster.local", serviceNamespace: "default", from: "default"))
        #expect(entry.spec.http.first?.directResponse?.status == 500)
    }

    static let virtualService = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews-vs, namespace: default}
        spec:
          hosts: [reviews]
          http: [{route: [{destination: {host: reviews}}]}]
        """

    /// istiod's rule: in the route's namespace its clients take the route; elsewhere the older of
    /// the two takes the host, and the one set aside is warned about.
    @Test func aRouteAndAVirtualServiceForOneHost() throws {
        let route = Self.route(backends: "[{name: reviews, port: 9080}]")
        let host = "reviews.default.svc.cluster.local"
        // The VirtualService is older: clients elsewhere keep it; the namespace's take the route.
        let olderVS = try context([Self.services, Self.virtualService, route])
        #expect(olderVS.virtualService(for: host, serviceNamespace: "default", from: "default")?.routes == [Self.key])
        #expect(olderVS.virtualService(for: host, serviceNamespace: "default", from: "prod")?.key.name == "reviews-vs")
        #expect(olderVS.warnings.contains { $0.key == Self.key && $0.message.contains("older VirtualService default/reviews-vs") })
        // The route is older: it takes the host everywhere.
        let olderRoute = try context([Self.services, route, Self.virtualService])
        #expect(olderRoute.virtualService(for: host, serviceNamespace: "default", from: "prod")?.routes == [Self.key])
        #expect(olderRoute.warnings.contains { $0.key.name == "reviews-vs" && $0.field == "spec.hosts" })
    }

    /// A backend's filters other than the header modifiers are accepted and answered as not
    /// honoured (istiod refuses them); they change nothing.
    @Test func aBackendsOtherFiltersAreAnsweredAsNotHonoured() throws {
        let spec = #"""
            {"parentRefs":[{"group":"","kind":"Service","name":"reviews"}],
             "rules":[{"backendRefs":[{"name":"reviews","port":9080,"filters":[{"type":"URLRewrite","urlRewrite":{"hostname":"x"}}]}]}]}
            """#
        let resource = ConfigResource(key: Self.key, spec: try JSONValue.parse(json: spec))
        let answer = try ConfigValidator.validateForWrite(resource)
        #expect(answer.notHonoured.map(\.path) == ["spec.rules[0].backendRefs[0].filters[0].urlRewrite"])
    }

    /// `meshctl analyze` says what the routes' status says, and where a route and a
    /// VirtualService meet.
    @Test func analysisReportsRouteProblemsAndConflicts() throws {
        let messages = try ConfigAnalysisTests.analyze([
            Self.services, Self.virtualService, Self.route(backends: "[{name: ratings, namespace: prod, port: 9080}]"),
            Self.route("orphan", parent: "details", backends: "[{name: reviews, port: 9080}]"),
        ])
        let codes = Set(messages.filter { $0.resource.kind == .httpRoute }.map { "\($0.resource.name) \($0.code.rawValue)" })
        #expect(codes == ["reviews MSH0004", "reviews MSH0005", "orphan MSH0003"])
        #expect(messages.contains { $0.code == .gatewayRouteRefNotResolved && $0.message.hasPrefix("RefNotPermitted: ") })
    }

    /// As istiod: a non-zero backendRequest is the route's timeout, else a non-zero request;
    /// `0s` turns neither on.
    @Test(
        arguments: [("10s", "0s", "10000ms"), ("10s", "2s", "2000ms"), ("0s", "0s", nil), ("1m30s", nil, "90000ms")] as [(String, String?, String?)])
    func timeouts(_ request: String, _ backend: String?, _ expected: String?) throws {
        let backendText = backend.map { ", backendRequest: \($0)" } ?? ""
        let push = try context([
            Self.services,
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: reviews, namespace: default}
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews}]
              rules: [{timeouts: {request: \(request)\(backendText)}, backendRefs: [{name: reviews, port: 9080}]}]
            """,
        ])
        let entry = try #require(push.virtualService(for: "reviews.default.svc.cluster.local", serviceNamespace: "default", from: "default"))
        #expect(entry.spec.http.first?.timeout == expected)
    }

    /// The API's header values and paths are literal: a `%` is not an Envoy variable, a `\` not
    /// a group reference.
    @Test func headerValuesAndPathsAreLiteral() throws {
        let push = try context([
            Self.services,
            Self.filtered(
                #"[{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Share, value: 100%}]}}, {type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: '/a\1'}}}]"#
            ),
        ])
        let rule = try #require(
            push.virtualService(for: "reviews.default.svc.cluster.local", serviceNamespace: "default", from: "default")?.spec.http.first)
        #expect(rule.headers?.request.set["x-share"] == "100%%")
        #expect(rule.rewrite?.uriRegexRewrite?.rewrite == #"/a\\1"#)
    }

    /// `hostnames` do not apply to Service parents, and the apply says so.
    @Test func hostnamesOfAServiceRouteAreAnswered() throws {
        let route = Self.route(backends: "[{name: reviews, port: 9080}]").replacingOccurrences(
            of: "  rules:", with: "  hostnames: [reviews.example.com]\n  rules:")
        let push = try context([Self.services, route])
        #expect(push.warnings.contains { $0.key == Self.key && $0.field == "spec.hostnames" })
        #expect(condition(push, "Accepted")?.isTrue == true)
    }
}

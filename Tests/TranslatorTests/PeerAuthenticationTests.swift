import EnvoyAPI
import MeshModel
import Testing

@testable import Translator

/// A PeerAuthentication `name` in `namespace` with `spec` (YAML lines indented by two).
func peerAuthentication(_ name: String, _ namespace: String, _ spec: String, version: String = "v1") -> String {
    """
    apiVersion: security.istio.io/\(version)
    kind: PeerAuthentication
    metadata: {name: \(name), namespace: \(namespace)}
    spec:
    \(spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
    """
}

@Suite("PeerAuthentication precedence and inbound listeners")
struct PeerAuthenticationTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var policies: [String]
        var namespace = "shop"
        var labels: [String: String] = ["app": "reviews"]
        var port: UInt32 = 50051
        var expected: PeerAuthentication.Mode
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "no policy: PERMISSIVE", policies: [], expected: .permissive),
        Case(name: "mesh STRICT", policies: [peerAuthentication("mesh", "istio-system", "mtls: {mode: STRICT}")], expected: .strict),
        Case(
            name: "namespace DISABLE overrides mesh STRICT",
            policies: [
                peerAuthentication("mesh", "istio-system", "mtls: {mode: STRICT}"),
                peerAuthentication("ns", "shop", "mtls: {mode: DISABLE}"),
            ], expected: .disable),
        Case(
            name: "namespace UNSET inherits mesh",
            policies: [
                peerAuthentication("mesh", "istio-system", "mtls: {mode: STRICT}"),
                peerAuthentication("ns", "shop", "mtls: {mode: UNSET}"),
            ], expected: .strict),
        Case(
            name: "workload overrides namespace",
            policies: [
                peerAuthentication("ns", "shop", "mtls: {mode: DISABLE}"),
                peerAuthentication("w", "shop", "selector: {matchLabels: {app: reviews}}\nmtls: {mode: STRICT}"),
            ], expected: .strict),
        Case(
            name: "workload selector not matching",
            policies: [peerAuthentication("w", "shop", "selector: {matchLabels: {app: ratings}}\nmtls: {mode: STRICT}")], expected: .permissive),
        Case(
            name: "workload UNSET inherits namespace",
            policies: [
                peerAuthentication("ns", "shop", "mtls: {mode: STRICT}"),
                peerAuthentication("w", "shop", "selector: {matchLabels: {app: reviews}}"),
            ], expected: .strict),
        Case(
            name: "portLevelMtls for the port",
            policies: [
                peerAuthentication(
                    "w", "shop", "selector: {matchLabels: {app: reviews}}\nmtls: {mode: STRICT}\nportLevelMtls: {50051: {mode: DISABLE}}")
            ],
            expected: .disable),
        Case(
            name: "portLevelMtls for another port",
            policies: [
                peerAuthentication(
                    "w", "shop", "selector: {matchLabels: {app: reviews}}\nmtls: {mode: STRICT}\nportLevelMtls: {8080: {mode: DISABLE}}")
            ],
            expected: .strict),
        Case(
            name: "portLevelMtls UNSET inherits the workload's (inherited) mode",
            policies: [
                peerAuthentication("ns", "shop", "mtls: {mode: STRICT}"),
                peerAuthentication("w", "shop", "selector: {matchLabels: {app: reviews}}\nportLevelMtls: {50051: {mode: UNSET}}"),
            ],
            expected: .strict),
        Case(
            name: "oldest workload policy wins",
            policies: [
                peerAuthentication("old", "shop", "selector: {matchLabels: {app: reviews}}\nmtls: {mode: DISABLE}"),
                peerAuthentication("new", "shop", "selector: {matchLabels: {app: reviews}}\nmtls: {mode: STRICT}"),
            ],
            expected: .disable),
        Case(
            name: "a root-namespace policy with a selector is no mesh policy",
            policies: [peerAuthentication("w", "istio-system", "selector: {matchLabels: {app: reviews}}\nmtls: {mode: STRICT}")],
            expected: .permissive),
        Case(
            name: "another namespace's policy does not apply",
            policies: [peerAuthentication("ns", "other", "mtls: {mode: STRICT}")], expected: .permissive),
        Case(name: "v1beta1", policies: [peerAuthentication("ns", "shop", "mtls: {mode: STRICT}", version: "v1beta1")], expected: .strict),
    ]

    @Test(arguments: cases)
    func precedence(_ test: Case) throws {
        let push = try context(test.policies)
        let decision = push.peerAuthentications.decision(
            namespace: test.namespace, labels: test.labels, port: test.port,
            rootNamespace: push.settings.rootNamespace)
        #expect(decision.mode == test.expected)
    }

    @Test func olderNamespacePolicyWinsAndTheOtherIsWarned() throws {
        let push = try context([peerAuthentication("a", "shop", "mtls: {mode: STRICT}"), peerAuthentication("b", "shop", "mtls: {mode: DISABLE}")])
        #expect(push.peerAuthentications.decision(namespace: "shop", labels: [:], port: 1, rootNamespace: "istio-system").mode == .strict)
        #expect(push.warnings.contains { $0.key.name == "b" && $0.field == "spec.selector" })
    }

    @Test(arguments: [
        ("portLevelMtls: {50051: {mode: STRICT}}", "spec.portLevelMtls"),
        ("selector: {}\nportLevelMtls: {50051: {mode: STRICT}}", "spec.portLevelMtls"),
        ("selector: {matchLabels: {app: x}}\nportLevelMtls: {0: {mode: STRICT}}", "spec.portLevelMtls.0"),
        ("mtls: {mode: STRICTER}", "spec.mtls.mode"),
        ("selector: {matchLabels: {app: '*'}}", "spec.selector.matchLabels.app"),
    ])
    func invalid(_ spec: String, _ field: String) throws {
        let resource = try #require(try ConfigDocumentParser.parse(peerAuthentication("p", "shop", spec)).first)
        #expect(throws: MeshModelError.self) { _ = try ConfigValidator.validate(resource) }
        do { _ = try ConfigValidator.validate(resource) } catch { #expect(error.field == field) }
    }

    @Test func permissiveIsWarnedOnWrite() throws {
        let resource = try #require(try ConfigDocumentParser.parse(peerAuthentication("p", "shop", "mtls: {mode: PERMISSIVE}")).first)
        let result = try ConfigValidator.validateForWrite(resource)
        #expect(result.notHonoured.isEmpty)
        #expect(result.clientLimits.filter { $0.kinds == [.proxylessGRPC] }.map(\.path) == ["spec.mtls.mode"])
        // Envoy sidecars serve every mode as istiod does: nothing to warn about for them.
        #expect(result.clientLimits.map(\.kinds) == [[.proxylessGRPC]])
        let strict = try #require(try ConfigDocumentParser.parse(peerAuthentication("p", "shop", "mtls: {mode: STRICT}")).first)
        #expect(try ConfigValidator.validateForWrite(strict).clientLimits.isEmpty)
    }

    @Test(arguments: [
        ("xds.istio.io/grpc/lds/inbound/0.0.0.0:50051", "0.0.0.0", UInt32(50051)),
        ("xds.istio.io/grpc/lds/inbound/[::]:8080", "::", UInt32(8080)),
        ("xds.istio.io/grpc/lds/inbound/10.1.2.3:1", "10.1.2.3", UInt32(1)),
    ])
    func inboundNames(_ name: String, _ ip: String, _ port: UInt32) throws {
        let address = try #require(InboundAddress(listenerName: name))
        #expect(address.ip == ip && address.port == port)
        #expect(address.listenerName == name)
    }

    @Test(arguments: [
        "reviews.shop.svc.cluster.local:9080", "xds.istio.io/grpc/lds/inbound/0.0.0.0:0",
        "xds.istio.io/grpc/lds/inbound/0.0.0.0:70000", "xds.istio.io/grpc/lds/inbound/:::80",
        "xds.istio.io/grpc/lds/inbound/localhost:80", "xds.istio.io/grpc/lds/inbound/[1.2.3.4]:80",
    ])
    func notInboundNames(_ name: String) {
        #expect(InboundAddress(listenerName: name) == nil)
    }

    /// The listener a server in `shop` with `labels` gets for `address` at `push`.
    func inboundListener(_ push: PushContext, address: String, labels: [String: String] = ["app": "reviews"]) throws
        -> Envoy_Config_Listener_V3_Listener
    {
        var proxy = Proxy(id: "server", namespace: "shop", labels: labels)
        proxy.inbound = [try #require(InboundAddress(listenerName: InboundAddress.listenerNamePrefix + address))]
        let name = InboundAddress.listenerNamePrefix + address
        let resource = try #require(GeneratorTable.testing.resources(TypeURL.listener, for: proxy, in: push).first { $0.name == name })
        return try Envoy_Config_Listener_V3_Listener(serializedBytes: resource.payload.value)
    }

    @Test func strictListenerShape() throws {
        let push = try context([peerAuthentication("w", "shop", "selector: {matchLabels: {app: reviews}}\nmtls: {mode: STRICT}")])
        let listener = try inboundListener(push, address: "[::]:50051")
        #expect(listener.address.socketAddress.address == "::" && listener.address.socketAddress.portValue == 50051)
        #expect(listener.listenerFilters.isEmpty && !listener.hasUseOriginalDst && !listener.hasApiListener)
        #expect(listener.filterChains.count == 1)
        let chain = listener.filterChains[0]
        #expect(!chain.hasFilterChainMatch)
        #expect(chain.transportSocket.name == "envoy.transport_sockets.tls")
        let tls = try Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext(serializedBytes: chain.transportSocket.typedConfig.value)
        #expect(tls.requireClientCertificate.value)
        #expect(tls.commonTlsContext.tlsCertificateProviderInstance.instanceName == "default")
        #expect(tls.commonTlsContext.tlsCertificateProviderInstance.certificateName == "default")
        #expect(tls.commonTlsContext.validationContext.caCertificateProviderInstance.certificateName == "ROOTCA")
        let manager = try Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager(
            serializedBytes: chain.filters[0].typedConfig.value)
        let route = manager.routeConfig.virtualHosts[0].routes[0]
        guard case .nonForwardingAction = route.action else {
            Issue.record("no non_forwarding_action: \(route)")
            return
        }
        #expect(route.match.prefix == "/")
        #expect(manager.httpFilters.last?.name == HTTPFilters.routerName)
    }

    @Test func plaintextWithoutPolicyAndForOtherLabels() throws {
        let push = try context([peerAuthentication("w", "shop", "selector: {matchLabels: {app: reviews}}\nmtls: {mode: STRICT}")])
        let other = try inboundListener(push, address: "0.0.0.0:50051", labels: ["app": "ratings"])
        #expect(!other.filterChains[0].hasTransportSocket)
        #expect(other.address.socketAddress.address == "0.0.0.0")
        let bare = try inboundListener(try context([]), address: "0.0.0.0:7")
        #expect(!bare.filterChains[0].hasTransportSocket)
    }

    @Test func viewKeysShareAcrossIrrelevantLabels() throws {
        let push = try context([peerAuthentication("w", "shop", "selector: {matchLabels: {app: reviews}}\nmtls: {mode: STRICT}")])
        let address = try #require(InboundAddress(listenerName: InboundAddress.listenerNamePrefix + "0.0.0.0:50051"))
        var a = Proxy(id: "a", namespace: "shop", labels: ["app": "reviews", "pod": "a"])
        var b = Proxy(id: "b", namespace: "shop", labels: ["app": "reviews", "pod": "b"])
        var c = Proxy(id: "c", namespace: "shop", labels: ["app": "ratings", "pod": "c"])
        #expect(push.viewKey(for: a) == push.viewKey(for: c))  // clients: policy labels do not matter
        a.inbound = [address]
        b.inbound = [address]
        c.inbound = [address]
        #expect(push.viewKey(for: a) == push.viewKey(for: b))
        #expect(push.viewKey(for: a) != push.viewKey(for: c))
        #expect(push.viewKey(for: a).policyLabels == ["app": "reviews"])
    }
}
